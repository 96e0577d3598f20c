package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestRealMainRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-drift.reference=yesterday"}, "reference"},
		{[]string{"-drift.interval=0s"}, "interval"},
		{[]string{"-movies=/nonexistent/movies.csv"}, "load genres"},
	} {
		t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
		err := realMain(context.Background(), tc.args, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
