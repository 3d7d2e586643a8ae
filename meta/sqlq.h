/* sqlq.h - a metadata module's SQL: its tables created and its statements prepared once, failures named. */
#ifndef CFS_META_SQLQ_H
#define CFS_META_SQLQ_H

/*
 * Each state-machine module (ns, dmap, lock, lease, fsm) keeps an array of
 * statements prepared once (SQLITE_PREPARE_PERSISTENT) over the one
 * database, indexed by an enum of its own.  These calls are the
 * opening, the failing and the closing they all do.
 */

#include <sqlite3.h>

/*
 * Run @schema (NULL: none) on @db, then prepare the @n statements of @sql
 * into @q.  @who names the module in errors ("locks: creating the
 * tables: ...", "locks: SELECT ...: no such column").  A schema that fails
 * is CFS_CORRUPT (the file is not a database of ours, or a broken one), a
 * statement that does not prepare CFS_INTERNAL.  On failure the statements
 * prepared are finalized and @q is all NULL.
 */
int sqlq_prepare(sqlite3 *db, const char *who, const char *schema,
		 const char *const *sql, int n, sqlite3_stmt **q,
		 char *errmsg);

/*
 * A statement of @who's failed on @db: "@who: @what: <sqlite3_errmsg(@db)>"
 * into @errmsg, and CFS_INTERNAL returned.  @what is the statement's SQL
 * or what it was for ("reading leases"); SQLite's message is that of the
 * last call on @db, so call this before running anything else on it.
 */
int sqlq_fail(sqlite3 *db, const char *who, const char *what, char *errmsg);

/* Finalize the @n statements of @q (NULL ones too) and clear them. */
void sqlq_finalize(sqlite3_stmt **q, int n);

#endif /* CFS_META_SQLQ_H */
