package endpoints

import (
	"reflect"
	"testing"
)

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	if e, err := Read(dir); err != nil || !reflect.DeepEqual(e, Endpoints{}) {
		t.Fatalf("no file: %+v, %v", e, err)
	}
	want := Endpoints{KafkaBrokers: []string{"127.0.0.1:39092"}, NATSURL: "nats://127.0.0.1:34222", API: URL(":8000")}
	if err := Write(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{":8000": "http://127.0.0.1:8000", "0.0.0.0:1": "http://127.0.0.1:1",
		"[::]:2": "http://127.0.0.1:2", "api:3": "http://api:3", "nonsense": ""} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}
