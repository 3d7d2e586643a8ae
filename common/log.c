/* log.c - one formatted line per event, written with a single write(). */
#include "common/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int cfs_log_threshold = CFS_LOG_INFO;

static char log_progname[32] = "cfs";
static FILE *log_stream;

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG",
					"TRACE"};

int
cfs_log_level_parse(const char *name)
{
	for (int i = 0; i <= CFS_LOG_TRACE; i++)
		if (strcasecmp(name, log_names[i]) == 0)
			return i;
	if (strcasecmp(name, "warning") == 0)
		return CFS_LOG_WARN;
	return -1;
}

void
cfs_log_init(const char *progname)
{
	const char *env;

	if (progname != NULL) {
		const char *slash = strrchr(progname, '/');
		snprintf(log_progname, sizeof(log_progname), "%s",
			 slash ? slash + 1 : progname);
	}
	env = getenv("CFS_LOG");
	if (env != NULL && *env != '\0') {
		int level = cfs_log_level_parse(env);
		if (level < 0)
			LOG_WARN("CFS_LOG=%s is not one of "
				 "error|warn|info|debug|trace; ignored",
				 env);
		else
			cfs_log_threshold = level;
	}
	env = getenv("CFS_TRACE");
	if (env != NULL && *env != '\0' && strcmp(env, "0") != 0)
		cfs_log_threshold = CFS_LOG_TRACE;
}

void
cfs_log_set_stream(FILE *stream)
{
	log_stream = stream;
}

void
cfs_log_emit(int level, const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;
	FILE *out = log_stream ? log_stream : stderr;

	if (level < 0)
		level = 0;
	if (level > CFS_LOG_TRACE)
		level = CFS_LOG_TRACE;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s %s:%d: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
		     log_progname, (int)getpid(), log_names[level], file, line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2; /* truncated: keep the newline */
	buf[n++] = '\n';
	/* One fwrite of a whole line: lines from threads never interleave. */
	fwrite(buf, 1, (size_t)n, out);
	fflush(out);
}
