package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveStarter(t *testing.T) {
	data := t.TempDir()
	missing := filepath.Join(t.TempDir(), "absent")

	// auto without the shared data: generated sample, written once.
	ratings, catalog, err := resolveStarter("auto", missing, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "sample"); catalog != want || ratings != filepath.Join(want, "ratings.csv") {
		t.Fatalf("auto: ratings %q catalog %q", ratings, catalog)
	}
	for _, f := range []string{"ratings.csv", "movies.csv"} {
		if _, err := os.Stat(filepath.Join(catalog, f)); err != nil {
			t.Errorf("sample lacks %s: %v", f, err)
		}
	}
	before, _ := os.Stat(ratings)
	if _, _, err := resolveStarter("auto", missing, data); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(ratings); !after.ModTime().Equal(before.ModTime()) {
		t.Error("sample data was written again")
	}

	// auto with the shared data present: that folder.
	if r, c, err := resolveStarter("auto", catalog, t.TempDir()); err != nil || c != catalog || r != ratings {
		t.Errorf("auto with shared data: %q %q %v", r, c, err)
	}
	// A bare file has no catalog; a missing path is an error.
	if r, c, err := resolveStarter(ratings, missing, data); err != nil || r != ratings || c != "" {
		t.Errorf("file: %q %q %v", r, c, err)
	}
	if _, _, err := resolveStarter(missing, missing, data); err == nil {
		t.Error("missing starter accepted")
	}
}
