package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/modules/modulestest"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

func TestRealMainRejectsBadSettings(t *testing.T) {
	modulestest.Isolate(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad env value", nil, map[string]string{"SWIPEFLIX_REFIT_INTERVAL": "often"}, "SWIPEFLIX_REFIT_INTERVAL"},
		{"bad weights", []string{"-trainer.weights", "meh=3"}, nil, "meh"},
		{"invalid config", []string{"-trainer.holdout-percent", "90"}, nil, "holdout percent"},
		{"unknown flag", []string{"-nope"}, nil, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := trainer.Standalone(context.Background(), tc.args, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("trainer.Standalone(%v) = %v, want an error naming %q", tc.args, err, tc.want)
			}
		})
	}
}
