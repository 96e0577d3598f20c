package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func readAll(t testing.TB, text, name string, layout Layout) ([]Rating, error) {
	t.Helper()
	var out []Rating
	err := ReadRatingsFrom(strings.NewReader(text), name, layout, func(r Rating) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func TestReadRatingsLayouts(t *testing.T) {
	two := []Rating{{"1", "10", 4, 100}, {"2", "20", 3.5, 200}}
	noTime := []Rating{{"1", "10", 4, 0}, {"2", "20", 3.5, 0}}
	tests := []struct {
		name, text string
		want       []Rating
		layout     Layout // detected
	}{
		{"ml-100k", "1\t10\t4\t100\n2\t20\t3.5\t200\n", two, ML100K},
		{"ml-100k no final newline", "1\t10\t4\t100\n2\t20\t3.5\t200", two, ML100K},
		{"csv", "userId,movieId,rating,timestamp\n1,10,4.0,100\n2,20,3.5,200\n", two, CSV},
		{"csv crlf and bom", "\ufeffuserId,movieId,rating,timestamp\r\n1,10,4.0,100\r\n2,20,3.5,200\r\n", two, CSV},
		{"csv columns reordered, extra column", "timestamp,rating,movieId,userId,x\n100,4,10,1,a\n200,3.5,20,2,b\n", two, CSV},
		{"csv without timestamp", "user_id,item_id,rating\n1,10,4\n2,20,3.5\n", noTime, CSV},
		{"csv quoted field", "userId,movieId,rating,timestamp\n\"1\",10,4.0,100\n2,\"20\",3.5,200\n", two, CSV},
		{"dat", "1::10::4::100\n2::20::3.5::200\n", two, Dat},
		{"dat without timestamp", "1::10::4\n2::20::3.5\n", noTime, Dat},
		{"plain spaces", "1 10 4 100\n2   20  3.5 200\n", two, Plain},
		{"plain three columns", "1 10 4\n2 20 3.5\n", noTime, Plain},
		{"plain commas, no header", "1,10,4,100\n2,20,3.5,200\n", two, Plain},
		{"plain mixed tabs and spaces", "1 \t10 4 100\n2\t20\t3.5 200\n", two, Plain},
		{"plain string ids", "u1 m10 4\nu2 m20 3.5\n", []Rating{{"u1", "m10", 4, 0}, {"u2", "m20", 3.5, 0}}, Plain},
		{"blank lines skipped", "\n1\t10\t4\t100\n\n2\t20\t3.5\t200\n\n", two, ML100K},
		{"empty file", "", nil, Plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.text, "r", Auto)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			first, _, _ := strings.Cut(strings.TrimLeft(tt.text, "\n"), "\n")
			if l := detectRatings([]byte(first)); l != tt.layout {
				t.Errorf("detected %q, want %q", l, tt.layout)
			}
			// The explicit layout reads the same.
			got, err = readAll(t, tt.text, "r", tt.layout)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("with layout %q: got %v, %v", tt.layout, got, err)
			}
		})
	}
}

func TestReadRatingsErrors(t *testing.T) {
	csvHead := "userId,movieId,rating,timestamp\n"
	tests := []struct {
		name, text string
		layout     Layout
		line       int
		field      string
		msg        string // the whole error text
	}{
		{"bad number", csvHead + "1,1,4.0,5\n1,2,abc,5\n", Auto, 3, "rating", `ratings.csv:3: rating: "abc" is not a number`},
		{"rating too high", "1\t1\t7\t5\n", Auto, 1, "rating", `ratings.csv:1: rating: 7 is out of range 0.5..5`},
		{"rating zero", "1::1::0::5\n", Auto, 1, "rating", `ratings.csv:1: rating: 0 is out of range 0.5..5`},
		{"rating NaN", "1 1 NaN\n", Plain, 1, "rating", `ratings.csv:1: rating: NaN is out of range 0.5..5`},
		{"rating Inf", "1 1 +Inf\n", Plain, 1, "rating", `ratings.csv:1: rating: +Inf is out of range 0.5..5`},
		{"tab field count", "1\t1\t4\t5\n1\t2\t4\n", ML100K, 2, "", `ratings.csv:2: want 4 tab-separated fields (user item rating timestamp), got 3`},
		{"csv field count", csvHead + "1,1,4.0\n", Auto, 2, "", `ratings.csv:2: want 4 comma-separated fields as in the header, got 3`},
		{"dat field count", "1::1::4::5::6\n", Auto, 1, "", `ratings.csv:1: want 3 or 4 "::"-separated fields (user::movie::rating[::timestamp]), got 5`},
		{"plain field count", "1 1 4 5\n1 2\n", Auto, 2, "", `ratings.csv:2: want 3 or 4 fields (user item rating [timestamp]), got 2`},
		{"plain too many fields", "1 1 4 5 6 7 8 9 10\n", Plain, 1, "", `ratings.csv:1: want 3 or 4 fields (user item rating [timestamp]), got 9`},
		{"bad timestamp", "1\t1\t4\t12x\n", Auto, 1, "timestamp", `ratings.csv:1: timestamp: "12x" is not a Unix time in seconds`},
		{"negative timestamp", "1\t1\t4\t-5\n", Auto, 1, "timestamp", `ratings.csv:1: timestamp: -5 is negative`},
		{"empty user", csvHead + ",1,4.0,5\n", Auto, 2, "user", `ratings.csv:2: user: empty`},
		{"empty movie", "1::::4::5\n", Dat, 1, "movie", `ratings.csv:1: movie: empty`},
		{"bad header", "user,film,stars\n1,2,3\n", CSV, 1, "header", `ratings.csv:1: header: want columns userId,movieId,rating[,timestamp], got "user,film,stars"`},
		{"bad quote", csvHead + "1,\"2,4.0,5\n", Auto, 2, "", `ratings.csv:2: extraneous or missing " in quoted-field`},
		{"line too long", "1 1 4 " + strings.Repeat("9", maxLine+10) + "\n", Plain, 1, "", fmt.Sprintf("ratings.csv:1: line longer than %d bytes", maxLine)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.text, "ratings.csv", tt.layout)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if pe.Line != tt.line || pe.Field != tt.field || err.Error() != tt.msg {
				t.Errorf("got line %d field %q %q, want line %d field %q %q", pe.Line, pe.Field, err, tt.line, tt.field, tt.msg)
			}
			if !errors.Is(err, ErrFormat) {
				t.Error("not errors.Is ErrFormat")
			}
		})
	}
}

func TestReadRatingsUnknownLayout(t *testing.T) {
	if _, err := readAll(t, "1 1 4\n", "r", Layout("xml")); err == nil || !strings.Contains(err.Error(), `unknown layout "xml"`) {
		t.Errorf("got %v", err)
	}
}

func TestReadRatingsCallbackErrors(t *testing.T) {
	text := "1 1 4\n1 2 4\n1 3 4\n"
	n := 0
	err := ReadRatingsFrom(strings.NewReader(text), "r", Auto, func(Rating) error {
		n++
		if n == 2 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("ErrStop: got %v after %d ratings, want nil after 2", err, n)
	}
	boom := errors.New("boom")
	err = ReadRatingsFrom(strings.NewReader(text), "r", Auto, func(r Rating) error {
		if r.Movie == "3" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || err.Error() != "r:3: boom" {
		t.Errorf("got %v, want r:3: boom wrapping the callback error", err)
	}
}

func TestReadRatingsFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "u.data")
	if err := os.WriteFile(p, []byte("1\t1\t5\t9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Rating
	if err := ReadRatings(p, func(r Rating) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []Rating{{"1", "1", 5, 9}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	err := ReadRatings(filepath.Join(dir, "missing"), func(Rating) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestIDsAreShared(t *testing.T) {
	got, err := readAll(t, "7 42 4\n7 43 4\n", "r", Auto)
	if err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(got[0].User) != unsafe.StringData(got[1].User) {
		t.Error("equal user ids of two lines do not share storage")
	}
}

func TestParseLayout(t *testing.T) {
	for _, s := range []string{"ml-100k", "csv", "dat", "plain", "", "auto"} {
		if _, err := ParseLayout(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseLayout("parquet"); err == nil || !strings.Contains(err.Error(), `layout: unknown "parquet"`) {
		t.Errorf("got %v", err)
	}
}
