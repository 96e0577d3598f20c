package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/modules/modulestest"
	"github.com/swipeflix/swipeflix/services/drift/driftsvc"
)

func TestRealMainRejectsBadConfig(t *testing.T) {
	modulestest.Isolate(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-drift.reference=yesterday"}, "reference"},
		{[]string{"-drift.interval=0s"}, "interval"},
		{[]string{"-catalog=/nonexistent/folder"}, "load catalog"},
		{[]string{"stray"}, "unexpected argument"},
	} {
		err := driftsvc.Standalone(context.Background(), tc.args, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
