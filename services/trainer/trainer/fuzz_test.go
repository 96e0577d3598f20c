package trainer

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadCheckpoint feeds hostile files to LoadCheckpoint: it must return
// a checkpoint or an error, never panic, and what it accepts must survive a
// save and a load.
func FuzzLoadCheckpoint(f *testing.F) {
	f.Add([]byte(`{"format":1,"offsets":{"0":3},"entries":[{"u":"a","m":"b","v":4,"t":1,"e":"x","p":0,"o":2}]}`))
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":1,"entries":[{"u":"a","m":"b","v":99,"e":"x"}]}`))
	f.Add([]byte(`[]`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "cp.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cp, err := LoadCheckpoint(path)
		if err != nil {
			return
		}
		// What it accepts survives a save and a load unchanged.
		st := Restore(cp.Entries)
		again := filepath.Join(dir, "again.json")
		if err := SaveCheckpoint(again, Checkpoint{Offsets: cp.Offsets, Entries: st.Entries()}); err != nil {
			t.Fatal(err)
		}
		cp2, err := LoadCheckpoint(again)
		if err != nil {
			t.Fatalf("a checkpoint that loaded does not load after a save: %v", err)
		}
		if Restore(cp2.Entries).Hash() != st.Hash() || len(cp2.Offsets) != len(cp.Offsets) {
			t.Fatal("save and load changed the checkpoint")
		}
	})
}
