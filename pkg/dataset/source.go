package dataset

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Source is a dataset folder: where its ratings, movies and tags are and in
// which layout.
type Source struct {
	Dir    string
	Layout Layout // layout of the ratings file
	// RatingsPath is the full ratings file (u.data, ratings.csv, ratings.dat
	// or the folder's one plain file).
	RatingsPath string
	// MoviesPath and TagsPath are "" when the folder has no such file.
	MoviesPath string
	TagsPath   string
	// Folds are the ml-100k cross-validation splits u1..u5 as
	// {base, test} paths, in order, when present.
	Folds [][2]string
}

// Open finds the ratings, movies and tags files of a dataset folder, whatever
// its layout: ml-100k (u.data, u.item, u1..u5), the CSV layout (ratings.csv,
// movies.csv, tags.csv), the "::" layout (ratings.dat, movies.dat, tags.dat),
// or a folder holding one plain ratings file. dir may also name a ratings
// file itself.
func Open(dir string) (*Source, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	if !st.IsDir() {
		l, err := detectFile(dir)
		if err != nil {
			return nil, err
		}
		return &Source{Dir: filepath.Dir(dir), Layout: l, RatingsPath: dir}, nil
	}
	at := func(name string) string { return regularFile(dir, name) }
	s := &Source{Dir: dir}
	switch {
	case at("u.data") != "":
		s.Layout, s.RatingsPath, s.MoviesPath = ML100K, at("u.data"), at("u.item")
		for i := 1; i <= 5; i++ {
			base, test := at(fmt.Sprintf("u%d.base", i)), at(fmt.Sprintf("u%d.test", i))
			if base != "" && test != "" {
				s.Folds = append(s.Folds, [2]string{base, test})
			}
		}
		return s, nil
	case at("ratings.csv") != "":
		s.Layout, s.RatingsPath, s.MoviesPath, s.TagsPath = CSV, at("ratings.csv"), at("movies.csv"), at("tags.csv")
		return s, nil
	case at("ratings.dat") != "":
		s.Layout, s.RatingsPath, s.MoviesPath, s.TagsPath = Dat, at("ratings.dat"), at("movies.dat"), at("tags.dat")
		return s, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	var candidates []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || strings.HasPrefix(strings.ToUpper(n), "README") ||
			strings.HasSuffix(n, ".md") {
			continue
		}
		candidates = append(candidates, n)
	}
	sort.Strings(candidates)
	switch len(candidates) {
	case 0:
		return nil, fmt.Errorf("open dataset %s: %w: no ratings file (want u.data, ratings.csv, ratings.dat or one plain file)", dir, ErrFormat)
	case 1:
		s.RatingsPath = filepath.Join(dir, candidates[0])
		if s.Layout, err = detectFile(s.RatingsPath); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("open dataset %s: %w: cannot tell the ratings file among %s; name the file itself",
		dir, ErrFormat, strings.Join(candidates, ", "))
}

// OpenCatalog finds the movies and tags files of a catalog folder: the
// movies of any MovieLens layout (movies.csv, u.item or movies.dat) and the
// tags beside them (tags.csv or tags.dat), with or without a ratings file.
func OpenCatalog(dir string) (*Source, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open catalog %s: %w: not a folder", dir, ErrFormat)
	}
	at := func(name string) string { return regularFile(dir, name) }
	s := &Source{Dir: dir}
	switch {
	case at("movies.csv") != "":
		s.Layout, s.MoviesPath, s.TagsPath = CSV, at("movies.csv"), at("tags.csv")
	case at("u.item") != "":
		s.Layout, s.MoviesPath = ML100K, at("u.item")
	case at("movies.dat") != "":
		s.Layout, s.MoviesPath, s.TagsPath = Dat, at("movies.dat"), at("tags.dat")
	default:
		return nil, fmt.Errorf("open catalog %s: %w: no movies file (want movies.csv, u.item or movies.dat)", dir, ErrFormat)
	}
	return s, nil
}

// detectFile tells the ratings layout of a file from its first line.
func detectFile(path string) (Layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open dataset: %w", err)
	}
	defer f.Close()
	first, err := peekLine(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("open dataset %s: %w", path, err)
	}
	return detectRatings(first), nil
}

// Ratings streams the full ratings file to fn (see ReadRatings).
func (s *Source) Ratings(fn func(Rating) error) error {
	if s.RatingsPath == "" {
		return fmt.Errorf("read ratings of %s: %w: no ratings file", s.Dir, ErrFormat)
	}
	return ReadRatings(s.RatingsPath, fn)
}

// LoadAll reads every rating of the full ratings file into memory.
func (s *Source) LoadAll() ([]Rating, error) {
	if s.RatingsPath == "" {
		return nil, fmt.Errorf("read ratings of %s: %w: no ratings file", s.Dir, ErrFormat)
	}
	return LoadRatings(s.RatingsPath)
}

// LoadRatings reads every rating of one file into memory, e.g. a fold's
// base or test file.
func LoadRatings(path string) ([]Rating, error) {
	var out []Rating
	err := ReadRatings(path, func(r Rating) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadCatalog is OpenCatalog(dir) then Movies: the movies of a catalog
// folder with their tags merged in.
func ReadCatalog(dir string) ([]Movie, error) {
	src, err := OpenCatalog(dir)
	if err != nil {
		return nil, err
	}
	return src.Movies()
}

// Movies reads the catalog with each movie's tags merged in. A source
// without a movies file has no catalog: Movies returns nil and no error,
// and callers know movies by id only.
func (s *Source) Movies() ([]Movie, error) {
	if s.MoviesPath == "" {
		return nil, nil
	}
	movies, err := ReadMovies(s.MoviesPath)
	if err != nil {
		return nil, err
	}
	if s.TagsPath == "" {
		return movies, nil
	}
	tags, err := ReadTags(s.TagsPath)
	if err != nil {
		return nil, err
	}
	for i := range movies {
		movies[i].Tags = append(movies[i].Tags, tags[movies[i].ID]...)
	}
	return movies, nil
}

// LoadRatingsWith reads every rating of one file into memory with options,
// reporting the lines it skipped.
func LoadRatingsWith(path string, opt ReadOptions) ([]Rating, Skipped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Skipped{}, fmt.Errorf("read ratings: %w", err)
	}
	defer f.Close()
	var out []Rating
	sk, err := ReadRatingsWith(f, path, Auto, opt, func(r Rating) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, sk, err
	}
	return out, sk, nil
}

// regularFile is the path of the regular file name in dir, or "" when
// there is none.
func regularFile(dir, name string) string {
	p := filepath.Join(dir, name)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}
