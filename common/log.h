/* log.h - level-checked logging with file:line; tracing from the environment. */
#ifndef CFS_COMMON_LOG_H
#define CFS_COMMON_LOG_H

#include <stdio.h>

enum cfs_log_level {
	CFS_LOG_ERROR = 0,
	CFS_LOG_WARN = 1,
	CFS_LOG_INFO = 2,
	CFS_LOG_DEBUG = 3,
	CFS_LOG_TRACE = 4,
};

/* The threshold: messages above it are not formatted at all.  Process-wide
 * on purpose: a log level is a property of the process, like its stderr. */
extern int cfs_log_threshold;

/*
 * Set the program name shown on every line and read the environment:
 *   CFS_LOG=error|warn|info|debug|trace   threshold (default info)
 *   CFS_TRACE=1                           same as CFS_LOG=trace
 * An unknown CFS_LOG value is reported once and ignored.
 * Safe to call more than once; @progname is copied.
 */
void cfs_log_init(const char *progname);

/* Send log lines to @stream instead of stderr (borrowed; NULL = stderr). */
void cfs_log_set_stream(FILE *stream);

/* Parse "info", "debug"... into a level; -1 if unknown. */
int cfs_log_level_parse(const char *name);

/* Emit one line (used by the macros below; thread-safe, one write()). */
void cfs_log_emit(int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define CFS_LOG(level, ...)                                                \
	do {                                                               \
		if ((level) <= cfs_log_threshold)                          \
			cfs_log_emit((level), __FILE__, __LINE__,          \
				     __VA_ARGS__);                         \
	} while (0)

#define LOG_ERROR(...) CFS_LOG(CFS_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) CFS_LOG(CFS_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) CFS_LOG(CFS_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) CFS_LOG(CFS_LOG_DEBUG, __VA_ARGS__)
#define LOG_TRACE(...) CFS_LOG(CFS_LOG_TRACE, __VA_ARGS__)

#endif /* CFS_COMMON_LOG_H */
