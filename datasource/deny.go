package datasource

import "strings"

// PostgreSQL functions a statement may not call, by name, whatever the role
// may do: a second layer behind the connect-time check of the role, for
// functions that act outside the read-only transaction (other sessions, the
// server's files and configuration, large objects, notifications, advisory
// locks, other databases) or that run SQL handed to them as text, where the
// lexer cannot see what it calls. Names are compared lower-cased, so a
// quoted "PG_NOTIFY" (a different function to PostgreSQL) is refused too.
var (
	deniedPrefixes = []string{
		"dblink",          // dblink, dblink_exec, dblink_connect, …: other sessions
		"lo_",             // lo_import, lo_export, lo_create, lo_unlink, lo_put, …
		"pg_advisory",     // pg_advisory_lock, pg_advisory_xact_lock, …
		"pg_try_advisory", // pg_try_advisory_lock, …
		"pg_read_",        // pg_read_file, pg_read_binary_file
		"pg_ls_",          // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, …
		"pg_stat_file",    // the server's files
		"pg_file_",        // adminpack: pg_file_write, pg_file_unlink, …
		"pg_logdir_",      // adminpack
		"pg_stat_reset",   // pg_stat_reset, pg_stat_reset_shared, …
		"pg_stat_statements_reset",
		"pg_terminate_",   // other sessions
		"pg_cancel_",      // other sessions
		"pg_reload_",      // server configuration
		"pg_rotate_",      // server log
		"pg_switch_",      // pg_switch_wal
		"pg_wal_",         // pg_wal_replay_pause, …
		"pg_promote",      // standby promotion
		"pg_create_",      // restore points, replication slots
		"pg_drop_",        // replication slots
		"pg_copy_",        // replication slots
		"pg_replication_", // replication origins and slots
		"pg_logical_",     // pg_logical_emit_message, slot changes
		"pg_backup_",      // pg_backup_start, pg_backup_stop
		"pg_start_backup",
		"pg_stop_backup",
		"pg_log_",      // pg_log_backend_memory_contexts
		"pg_import_",   // pg_import_system_collations
		"pg_restore_",  // statistics import (PostgreSQL 18)
		"pg_clear_",    // statistics (PostgreSQL 18)
		"pg_sync_",     // replication slots
		"pg_truncate_", // pg_truncate_visibility_map
		"pg_prewarm",   // the buffer cache
		"brin_",        // brin_summarize_range, …: write to an index
	}
	deniedNames = map[string]bool{
		"pg_notify":                  true, // other sessions
		"set_config":                 true, // session settings, transaction_read_only among them
		"nextval":                    true, // sequences
		"setval":                     true,
		"loread":                     true, // large objects
		"lowrite":                    true,
		"gin_clean_pending_list":     true, // writes to an index
		"query_to_xml":               true, // run SQL given as text
		"query_to_xmlschema":         true,
		"query_to_xml_and_xmlschema": true,
		"cursor_to_xml":              true,
		"cursor_to_xmlschema":        true,
		"ts_stat":                    true,
		"ts_rewrite":                 true,
	}
)

// deniedCall reports whether a statement may not call the function name
// (lower-cased, unquoted).
func deniedCall(name string) bool {
	if deniedNames[name] {
		return true
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
