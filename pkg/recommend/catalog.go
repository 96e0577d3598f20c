package recommend

import "math"

// CatalogItem is one movie of a model's catalog with how many users rated
// (or swiped) it when the model last saw it.
type CatalogItem struct {
	MovieInfo
	Raters int
}

// Catalog returns every movie the model knows, in its index order (a copy:
// the caller may keep it). Readers such as a catalog search build their
// own index from it once per model.
func (m *Model) Catalog() []CatalogItem {
	m = m.current()
	out := make([]CatalogItem, len(m.movies))
	for i, mv := range m.movies {
		if mv.Title == "" {
			mv.Title = m.title(int32(i))
		}
		out[i] = CatalogItem{MovieInfo: mv}
		if i < len(m.popularity) {
			out[i].Raters = int(math.Round(math.Expm1(float64(m.popularity[i]))))
		}
	}
	return out
}

// Seen returns the ids of the movies user has rated or swiped, as the
// model knows them (nil for an unknown user). Recommendations never
// include them.
func (m *Model) Seen(user string) []string {
	m, st := m.load(user)
	if st == nil {
		return nil
	}
	out := make([]string, len(st.items))
	for j, i := range st.items {
		out[j] = m.items.ID(i)
	}
	return out
}
