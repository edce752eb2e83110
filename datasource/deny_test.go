package datasource

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDeniedCall(t *testing.T) {
	for name, denied := range map[string]bool{
		// Acting outside the transaction, or running SQL given as text.
		"dblink": true, "dblink_exec": true, "dblink_connect_u": true,
		"lo_import": true, "lo_export": true, "lo_create": true, "lo_unlink": true, "lo_from_bytea": true, "loread": true, "lowrite": true,
		"pg_advisory_lock": true, "pg_advisory_xact_lock_shared": true, "pg_try_advisory_lock": true,
		"pg_notify": true, "set_config": true, "nextval": true, "setval": true,
		"pg_read_file": true, "pg_read_binary_file": true, "pg_ls_dir": true, "pg_ls_waldir": true, "pg_stat_file": true,
		"pg_terminate_backend": true, "pg_cancel_backend": true, "pg_reload_conf": true, "pg_rotate_logfile": true,
		"pg_switch_wal": true, "pg_wal_replay_pause": true, "pg_promote": true, "pg_create_restore_point": true,
		"pg_create_logical_replication_slot": true, "pg_drop_replication_slot": true, "pg_logical_emit_message": true,
		"pg_backup_start": true, "pg_stat_reset": true, "pg_stat_reset_shared": true, "pg_log_backend_memory_contexts": true,
		"query_to_xml": true, "cursor_to_xml": true, "ts_stat": true, "ts_rewrite": true,
		"brin_summarize_new_values": true, "gin_clean_pending_list": true,
		// Reading.
		"now": false, "count": false, "lower": false, "current_setting": false, "pg_backend_pid": false,
		"pg_sleep": false, "pg_typeof": false, "pg_column_size": false, "pg_total_relation_size": false,
		"pg_size_pretty": false, "pg_get_viewdef": false, "pg_is_in_recovery": false, "currval": false,
		"to_char": false, "json_agg": false, "in": false, "select": false, "logo": false, "pg_": false,
	} {
		require.Equal(t, denied, deniedCall(name), name)
	}
}
