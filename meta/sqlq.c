/* sqlq.c - a metadata module's SQL: its tables created and its statements prepared once, failures named. */
#include "meta/sqlq.h"

#include "common/error.h"

int
sqlq_prepare(sqlite3 *db, const char *who, const char *schema,
	     const char *const *sql, int n, sqlite3_stmt **q, char *errmsg)
{
	char *err = NULL;

	for (int i = 0; i < n; i++)
		q[i] = NULL;
	if (schema != NULL &&
	    sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
		cfs_fail(errmsg, CFS_CORRUPT, "%s: creating the tables: %s",
			 who, err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return CFS_CORRUPT;
	}
	for (int i = 0; i < n; i++) {
		if (sqlite3_prepare_v3(db, sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &q[i],
				       NULL) != SQLITE_OK) {
			cfs_fail(errmsg, CFS_INTERNAL, "%s: %s: %s", who,
				 sql[i], sqlite3_errmsg(db));
			sqlq_finalize(q, n);
			return CFS_INTERNAL;
		}
	}
	return 0;
}

int
sqlq_fail(sqlite3 *db, const char *who, const char *what, char *errmsg)
{
	return cfs_fail(errmsg, CFS_INTERNAL, "%s: %s: %s", who, what,
			sqlite3_errmsg(db));
}

void
sqlq_finalize(sqlite3_stmt **q, int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_finalize(q[i]);
		q[i] = NULL;
	}
}
