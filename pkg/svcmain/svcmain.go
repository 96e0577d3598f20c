// Package svcmain is the body of SwipeFlix's thin mains: a context that
// ends on SIGINT or SIGTERM, a JSON logger at SWIPEFLIX_LOG_LEVEL, the
// build's version, and one place where the process exits.
//
// A main declares its version for the linker and hands over its work:
//
//	var version = "dev" // -ldflags "-X main.version=..."
//
//	func main() { svcmain.Main("api", version, run) }
package svcmain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// Func is a program's work: parse args, build the service with log, and
// run it until ctx ends (nil) or it fails.
type Func func(ctx context.Context, args []string, log *slog.Logger) error

// Program is one command.
type Program struct {
	// Name prefixes the error line and is logged at start.
	Name string
	// Version is printed by -version and logged at start.
	Version string
	// Run is the program's work.
	Run Func
}

// OS is what a program reads and writes besides its arguments; Main
// passes the process's own.
type OS struct {
	Getenv         func(string) string
	Stdout, Stderr io.Writer
}

// Main runs run as the program name with the process's arguments,
// environment and streams, and exits: 0 after a clean stop, 1 after an
// error, which it prints as "name: error".
func Main(name, version string, run Func) {
	ctx, stop := SignalContext()
	code := Program{Name: name, Version: version, Run: run}.Exec(ctx, os.Args[1:],
		OS{Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// Exec is Main without the process: it answers a lone -version argument
// with "name version" on stdout, otherwise builds the logger, logs the
// start and runs p.Run. It returns the exit code.
func (p Program) Exec(ctx context.Context, args []string, sys OS) int {
	if slices.Contains(args, "-version") || slices.Contains(args, "--version") {
		fmt.Fprintln(sys.Stdout, p.Name, p.Version)
		return 0
	}
	log, err := NewLogger(sys.Stderr, sys.Getenv)
	if err == nil {
		log.Info("program starting", "program", p.Name, "version", p.Version)
		err = p.Run(ctx, args, log)
	}
	return ExitCode(sys.Stderr, p.Name, err)
}

// SignalContext returns a context that ends on SIGINT or SIGTERM, and the
// function that stops listening for them.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// UsageError is a command line that does not parse: an unknown
// subcommand, a stray argument, a bad flag. ExitCode prints it with the
// usage and exits 2.
type UsageError struct {
	Err   error
	Usage string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with usage and a formatted message.
func Usagef(usage, format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...), Usage: usage}
}

// ExitCode is the exit code for err: 0 for nil and for flag.ErrHelp (the
// flag set has printed the usage); 2 for a UsageError or a flag error,
// after printing it and the usage; else 1 after printing "name: err" on
// stderr.
func ExitCode(stderr io.Writer, name string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	var ue *UsageError
	if errors.As(err, &ue) {
		if ue.Usage != "" {
			fmt.Fprint(stderr, ue.Usage)
		}
		return 2
	}
	return 1
}

// NewLogger is a JSON logger on w at the level SWIPEFLIX_LOG_LEVEL names
// through getenv (debug, info, warn or error; info when unset).
func NewLogger(w io.Writer, getenv func(string) string) (*slog.Logger, error) {
	var level slog.Level
	if v := getenv("SWIPEFLIX_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("SWIPEFLIX_LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}
