package dataset

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// uItem builds one u.item line with the given genre flag indexes set.
func uItem(id, title, date string, genres ...int) string {
	flags := make([]string, 19)
	for i := range flags {
		flags[i] = "0"
	}
	for _, g := range genres {
		flags[g] = "1"
	}
	return id + "|" + title + "|" + date + "||http://x/" + id + "|" + strings.Join(flags, "|") + "\n"
}

// readCase is a reader test's row: text read as a file, and what it gives.
type readCase[T any] struct {
	name, text string
	want       T
}

// testReads reads each case's text with read, as a file named file.
func testReads[T any](t *testing.T, read func(io.Reader, string) (T, error), file string, cases []readCase[T]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(strings.NewReader(tt.text), file)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// testReadErrors reads each case's text with read, as a file named file,
// and wants an ErrFormat whose message starts with the case's msg.
func testReadErrors[T any](t *testing.T, read func(io.Reader, string) (T, error), file string, cases []struct{ name, text, msg string }) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := read(strings.NewReader(tt.text), file)
			if err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %s", err, tt.msg)
			}
			if !errors.Is(err, ErrFormat) {
				t.Error("not errors.Is ErrFormat")
			}
		})
	}
}

func TestReadMovies(t *testing.T) {
	testReads(t, ReadMoviesFrom, "movies", []readCase[[]Movie]{
		{
			"u.item latin-1",
			uItem("1", "Toy Story (1995)", "01-Jan-1995", 3, 4, 5) +
				uItem("2", "Mis\xe9rables, Les (1995)", "01-Jan-1995", 8) +
				uItem("267", "unknown", "", 0) +
				uItem("9", "No Year", "01-Jan-1998", 1),
			[]Movie{
				{ID: "1", Title: "Toy Story (1995)", Year: 1995, Genres: []string{"Animation", "Children's", "Comedy"}},
				{ID: "2", Title: "Misérables, Les (1995)", Year: 1995, Genres: []string{"Drama"}},
				{ID: "267", Title: "unknown"},
				{ID: "9", Title: "No Year", Year: 1998, Genres: []string{"Action"}},
			},
		},
		{
			"movies.csv quoted, crlf, no genres",
			"movieId,title,genres\r\n" +
				"1,Toy Story (1995),Adventure|Animation\r\n" +
				"11,\"American President, The (1995)\",Comedy|Drama|Romance\r\n" +
				"12,\"Say \"\"Hi\"\" (2001)\",(no genres listed)\r\n" +
				"13,Babylon 5,Sci-Fi\r\n",
			[]Movie{
				{ID: "1", Title: "Toy Story (1995)", Year: 1995, Genres: []string{"Adventure", "Animation"}},
				{ID: "11", Title: "American President, The (1995)", Year: 1995, Genres: []string{"Comedy", "Drama", "Romance"}},
				{ID: "12", Title: `Say "Hi" (2001)`, Year: 2001},
				{ID: "13", Title: "Babylon 5", Genres: []string{"Sci-Fi"}},
			},
		},
		{
			"movies.dat latin-1 and utf-8 lines",
			"1::Toy Story (1995)::Animation|Children's|Comedy\n" +
				"2::Caf\xe9 au lait (1993)::Comedy\n" +
				"3::Caf\u00e9 Society (2016)::(no genres listed)\n",
			[]Movie{
				{ID: "1", Title: "Toy Story (1995)", Year: 1995, Genres: []string{"Animation", "Children's", "Comedy"}},
				{ID: "2", Title: "Café au lait (1993)", Year: 1993, Genres: []string{"Comedy"}},
				{ID: "3", Title: "Café Society (2016)", Year: 2016},
			},
		},
		{"empty", "", nil},
	})
}

func TestReadMoviesErrors(t *testing.T) {
	testReadErrors(t, ReadMoviesFrom, "u.item", []struct{ name, text, msg string }{
		{"u.item field count", uItem("1", "A (1990)", "") + "2|B (1991)|x||y|0|1\n",
			`u.item:2: want 24 "|"-separated fields, got 7`},
		{"u.item bad flag", strings.Replace(uItem("1", "A (1990)", ""), "|0|0\n", "|0|2\n", 1),
			`u.item:1: genre Western: flag "2" is not 0 or 1`},
		{"u.item empty id", uItem(" ", "A (1990)", ""), `u.item:1: movie_id: empty`},
		{"csv bad quote", "movieId,title,genres\n1,\"A (1990),Drama\n", `u.item:2: extraneous or missing " in quoted-field`},
		{"csv field count", "movieId,title,genres\n1,A (1990)\n", `u.item:2: wrong number of fields`},
		{"csv header", "movieId,name\n1,A\n", `u.item:1: header: want columns movieId,title[,genres], got "movieId,name"`},
		{"csv empty id", "movieId,title,genres\n1,A,Drama\n,B,Drama\n", `u.item:3: movie_id: empty`},
		{"dat field count", "1::A (1990)::Drama\n2::B (1991)\n", `u.item:2: want 3 "::"-separated fields (id::title::genres), got 2`},
		{"duplicate id", "1::A::Drama\n1::B::Drama\n", `bad data file: u.item: movie id "1" appears twice (entries 1 and 2)`},
		{"unknown layout", "hello world\n", `u.item:1: not a movies file`},
	})
}

func TestTitleYear(t *testing.T) {
	tests := []struct {
		title string
		year  int
	}{
		{"Toy Story (1995)", 1995},
		{"Toy Story (1995) ", 1995},
		{"Babylon 5", 0},
		{"Stranger Things (2016– )", 2016},
		{"Fawlty Towers (1975-1979)", 1975},
		{"Seven (a.k.a. Se7en) (1995)", 1995},
		{"(500) Days of Summer (2009)", 2009},
		{"Short (99)", 0},
		{"Odd (19x5)", 0},
		{"Words (1995 edition)", 0},
		{"", 0},
		{")", 0},
	}
	for _, tt := range tests {
		if got := titleYear(tt.title); got != tt.year {
			t.Errorf("titleYear(%q) = %d, want %d", tt.title, got, tt.year)
		}
	}
}

func TestReadTags(t *testing.T) {
	testReads(t, ReadTagsFrom, "tags", []readCase[map[string][]string]{
		{"csv", "userId,movieId,tag,timestamp\r\n1,10,funny,5\r\n2,10,Funny,6\r\n2,10,\"dark, moody\",7\r\n3,20,  ,8\r\n3,21,pixar,9\r\n",
			map[string][]string{"10": {"funny", "dark, moody"}, "21": {"pixar"}}},
		{"dat", "1::10::funny::5\n2::10::FUNNY::6\n2::11::Sci-fi::7\n",
			map[string][]string{"10": {"funny"}, "11": {"Sci-fi"}}},
		{"empty", "", map[string][]string{}},
	})
}

func TestReadTagsErrors(t *testing.T) {
	testReadErrors(t, ReadTagsFrom, "tags.csv", []struct{ name, text, msg string }{
		{"csv header", "userId,movieId,label\n1,2,x\n", `tags.csv:1: header: want columns movieId and tag`},
		{"csv empty movie", "userId,movieId,tag,timestamp\n1,,x,5\n", `tags.csv:2: movie: empty`},
		{"csv field count", "userId,movieId,tag,timestamp\n1,2,x\n", `tags.csv:2: wrong number of fields`},
		{"dat field count", "1::2\n", `tags.csv:1: want 4 "::"-separated fields`},
		{"unknown layout", "what is this\n", `tags.csv:1: not a tags file`},
	})
}

func TestReadCatalog(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"movies.csv": "movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n",
		"tags.csv":   "userId,movieId,tag,timestamp\n7,1,pixar,100\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := ReadCatalog(dir)
	if err != nil || len(ms) != 2 {
		t.Fatalf("ReadCatalog = %d movies, %v; want 2", len(ms), err)
	}
	if ms[0].ID != "1" || ms[0].Year != 1995 || len(ms[0].Tags) != 1 || ms[0].Tags[0] != "pixar" {
		t.Errorf("first movie %+v, want Toy Story of 1995 tagged pixar", ms[0])
	}
	if _, err := ReadCatalog(t.TempDir()); !errors.Is(err, ErrFormat) {
		t.Errorf("a folder without movies: %v, want ErrFormat", err)
	}
}
