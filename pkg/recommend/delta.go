package recommend

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Delta wire format, version 1 (integers little-endian, lengths uvarint):
//
//	magic "SWFXDLT" | byte version | int64 base version | int64 seq |
//	int64 newest event ms | movies | users | uint32 CRC-32C of all before
//
// movies and users are a count followed by that many records:
//
//	movie: id, title, year, genres, tags, overview (strings and string
//	       lists), factors, rating factors (float32 lists), rating bias
//	       (float32), count, content terms (int32 list), content values
//	       (float32 list)
//	user:  id, rated (count, then movie id and float32 value each),
//	       factors, rating factors (float32 lists), rating bias (float32)
//
// The size of an encoding is DeltaOverhead plus the EncodedSize of each
// record, at most: a trainer that must stay under a message limit (NATS: 1
// MiB) adds records while the sum fits.
const (
	deltaMagic   = "SWFXDLT"
	deltaVersion = 1
	// DeltaOverhead bounds the bytes of a delta besides its records: magic,
	// version, three int64 headers, two counts and the checksum.
	DeltaOverhead = len(deltaMagic) + 1 + 3*8 + 2*binary.MaxVarintLen64 + 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// EncodeDelta encodes d in the binary delta format. It fails on values
// that Apply would refuse (non-finite numbers, bad lengths).
func EncodeDelta(d Delta) ([]byte, error) {
	if err := checkDelta(d); err != nil {
		return nil, fmt.Errorf("encode delta: %w", err)
	}
	var b bytes.Buffer
	w := &writer{buf: &b}
	b.WriteString(deltaMagic)
	b.WriteByte(deltaVersion)
	w.i64(d.BaseVersion)
	w.i64(d.Seq)
	w.i64(d.NewestEventMillis)
	w.uv(uint64(len(d.Movies)))
	for _, md := range d.Movies {
		w.str(md.Info.ID)
		w.str(md.Info.Title)
		w.uv(uint64(max(md.Info.Year, 0)))
		w.strings(md.Info.Genres)
		w.strings(md.Info.Tags)
		w.str(md.Info.Overview)
		w.f32s(md.Factors)
		w.f32s(md.RatingFactors)
		w.f32(md.RatingBias)
		w.uv(uint64(md.Count))
		w.i32s(md.ContentTerms)
		w.f32s(md.ContentValues)
	}
	w.uv(uint64(len(d.Users)))
	for _, ud := range d.Users {
		w.str(ud.ID)
		w.uv(uint64(len(ud.Rated)))
		for _, r := range ud.Rated {
			w.str(r.Movie)
			w.f32(r.Value)
		}
		w.f32s(ud.Factors)
		w.f32s(ud.RatingFactors)
		w.f32(ud.RatingBias)
	}
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.Checksum(b.Bytes(), crcTable))
	b.Write(crc[:])
	return b.Bytes(), nil
}

// DecodeDelta reads a delta written by EncodeDelta, checking its checksum,
// every length and every number. It never panics on hostile input; errors
// wrap ErrCorrupt.
func DecodeDelta(data []byte) (Delta, error) {
	if len(data) < len(deltaMagic)+1+4 || string(data[:len(deltaMagic)]) != deltaMagic {
		return Delta{}, fmt.Errorf("%w: not a delta", ErrCorrupt)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return Delta{}, fmt.Errorf("%w: delta checksum mismatch", ErrCorrupt)
	}
	if v := body[len(deltaMagic)]; v != deltaVersion {
		return Delta{}, fmt.Errorf("%w: delta version %d, want %d", ErrCorrupt, v, deltaVersion)
	}
	r := &reader{b: body[len(deltaMagic)+1:]}
	var d Delta
	d.BaseVersion, d.Seq, d.NewestEventMillis = r.i64(), r.i64(), r.i64()
	// A movie record takes at least 13 bytes, a user record at least 8.
	for n := r.count(13); n > 0 && r.err == nil; n-- {
		md := MovieDelta{Info: MovieInfo{ID: r.str(), Title: r.str()}}
		year := r.uv()
		if year > 1<<20 {
			r.fail("movie %q year %d", md.Info.ID, year)
		}
		md.Info.Year = int(year)
		md.Info.Genres, md.Info.Tags, md.Info.Overview = r.strings(), r.strings(), r.str()
		md.Factors, md.RatingFactors, md.RatingBias = r.f32s(), r.f32s(), r.f32()
		count := r.uv()
		if count > 1<<40 {
			r.fail("movie %q count %d", md.Info.ID, count)
		}
		md.Count = int(count)
		md.ContentTerms, md.ContentValues = r.i32s(), r.f32s()
		d.Movies = append(d.Movies, md)
	}
	for n := r.count(8); n > 0 && r.err == nil; n-- {
		ud := UserDelta{ID: r.str()}
		for m := r.count(5); m > 0 && r.err == nil; m-- {
			ud.Rated = append(ud.Rated, Rated{Movie: r.str(), Value: r.f32()})
		}
		ud.Factors, ud.RatingFactors, ud.RatingBias = r.f32s(), r.f32s(), r.f32()
		d.Users = append(d.Users, ud)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return Delta{}, r.err
	}
	if err := checkDelta(d); err != nil {
		return Delta{}, err
	}
	return d, nil
}

// checkDelta checks ids, lengths and numbers of every record.
func checkDelta(d Delta) error {
	for _, md := range d.Movies {
		if md.Info.ID == "" || len(md.ContentTerms) != len(md.ContentValues) || md.Info.Year < 0 {
			return fmt.Errorf("%w: movie %q is malformed", ErrCorrupt, md.Info.ID)
		}
		for _, t := range md.ContentTerms {
			if t < 0 {
				return fmt.Errorf("%w: movie %q has a negative term", ErrCorrupt, md.Info.ID)
			}
		}
		if err := checkMovieDelta(md); err != nil {
			return err
		}
	}
	for _, ud := range d.Users {
		if ud.ID == "" {
			return fmt.Errorf("%w: a user delta has no id", ErrCorrupt)
		}
		if err := checkUserDelta(ud); err != nil {
			return err
		}
	}
	return nil
}

func uvLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func strLen(s string) int { return uvLen(uint64(len(s))) + len(s) }

func stringsLen(ss []string) int {
	n := uvLen(uint64(len(ss)))
	for _, s := range ss {
		n += strLen(s)
	}
	return n
}

func f32sLen(n int) int { return uvLen(uint64(n)) + 4*n }

// EncodedSize is the exact number of bytes this record adds to a delta's
// encoding.
func (md MovieDelta) EncodedSize() int {
	return strLen(md.Info.ID) + strLen(md.Info.Title) + uvLen(uint64(max(md.Info.Year, 0))) +
		stringsLen(md.Info.Genres) + stringsLen(md.Info.Tags) + strLen(md.Info.Overview) +
		f32sLen(len(md.Factors)) + f32sLen(len(md.RatingFactors)) + 4 + uvLen(uint64(max(md.Count, 0))) +
		f32sLen(len(md.ContentTerms)) + f32sLen(len(md.ContentValues))
}

// EncodedSize is the exact number of bytes this record adds to a delta's
// encoding.
func (ud UserDelta) EncodedSize() int {
	n := strLen(ud.ID) + uvLen(uint64(len(ud.Rated)))
	for _, r := range ud.Rated {
		n += strLen(r.Movie) + 4
	}
	return n + f32sLen(len(ud.Factors)) + f32sLen(len(ud.RatingFactors)) + 4
}
