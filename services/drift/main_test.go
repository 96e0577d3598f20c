package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestRealMainRejectsBadConfig(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-drift.reference=yesterday"}, "reference"},
		{[]string{"-drift.interval=0s"}, "interval"},
		{[]string{"-catalog=/nonexistent/folder"}, "load catalog"},
		{[]string{"stray"}, "unexpected argument"},
	} {
		err := realMain(context.Background(), tc.args, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

// isolate keeps a test's realMain off the repository and the default
// ports: its data in a temporary folder, embedded brokers on free ports.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
	t.Setenv("SWIPEFLIX_KAFKA_PORT", "0")
	t.Setenv("SWIPEFLIX_NATS_PORT", "0")
}
