package trainer

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadCheckpoint feeds hostile files to LoadCheckpoint: it must return
// a checkpoint or an error, never panic, and what it accepts must restore.
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
		st := Restore(cp.Entries)
		if st.Len() > len(cp.Entries) {
			t.Fatalf("restored %d pairs from %d entries", st.Len(), len(cp.Entries))
		}
	})
}
