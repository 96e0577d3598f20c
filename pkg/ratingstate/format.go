package ratingstate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The checkpoint's files (all integers little-endian; see docs/state.md):
//
// A base file (state-<gen>.base) holds a whole state, written by a
// compaction or a migration, sorted by (user index, movie index):
//
//	file header  "SFSTBASE" gen:u64 crc:u32
//	frames       kind:u8 0 0 0 count:u32 len:u32 payload crc:u32
//	  1 user ids   count x (uvarint length, bytes)
//	  2 movie ids  likewise
//	  3 positions  count x (partition:i32 offset:i64), one per user in order
//	  4 entries    count x entry (25 bytes, below)
//	  5 meta       users:u64 movies:u64 entries:u64 seq:u64 saved_at:i64
//	               hash:[32] offsets:u32 offsets x (partition:i32 offset:i64)
//
// The meta frame is the last bytes of the file. Frames are at most about
// 1 MiB, each checked by its CRC-32C before it is used.
//
// A log file (state-<gen>.log) is a file header "SFSTLOG1" gen:u64 crc:u32
// followed by segments, each appended and fsynced by one Store.Append:
//
//	header (segHeaderSize bytes): "SFSTSEG1" seq:u64 payload_len:u64
//	  payload_crc:u32 first_user:u32 users:u32 first_movie:u32 movies:u32
//	  ids_len:u64 entries:u64 positions:u32 offsets:u32 len:u64
//	  saved_at:i64 hash:[32] header_crc:u32
//	payload: user ids, movie ids (as above; ids_len bytes in all), entries
//	  sorted by (user, movie), positions (user:u32 partition:i32
//	  offset:i64), offsets (partition:i32 offset:i64)
//
// An entry is user:u32 movie:u32 value_code:u8 ts:i64 event_hash:u64.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	baseMagic = "SFSTBASE"
	logMagic  = "SFSTLOG1"
	segMagic  = "SFSTSEG1"

	fileHeaderSize = 8 + 8 + 4
	segHeaderSize  = 8 + 8 + 8 + 4 + 4*4 + 8 + 8 + 4 + 4 + 8 + 8 + 32 + 4
	entrySize      = 4 + 4 + 1 + 8 + 8
	basePosSize    = 4 + 8
	segPosSize     = 4 + 4 + 8
	offsetSize     = 4 + 8
	frameHeadSize  = 1 + 3 + 4 + 4

	// frameTarget is the payload size after which a frame is closed.
	frameTarget = 1 << 20
	// maxFrame bounds a frame's payload when reading, so a corrupt
	// length cannot make the reader allocate without limit.
	maxFrame = 64 << 20
)

// Frame kinds of a base file.
const (
	frameUserIDs   = 1
	frameMovieIDs  = 2
	framePositions = 3
	frameEntries   = 4
	frameMeta      = 5
)

// errCorrupt marks an integrity failure (checksum, magic, bounds), as
// opposed to an I/O error.
var errCorrupt = errors.New("corrupt")

func fileHeader(magic string, gen uint64) []byte {
	b := make([]byte, 0, fileHeaderSize)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint64(b, gen)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// checkFileHeader checks a file header's magic, generation and checksum.
func checkFileHeader(b []byte, magic string, gen uint64) error {
	if len(b) < fileHeaderSize || string(b[:8]) != magic {
		return fmt.Errorf("file header: bad magic: %w", errCorrupt)
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return fmt.Errorf("file header: checksum mismatch: %w", errCorrupt)
	}
	if g := binary.LittleEndian.Uint64(b[8:]); g != gen {
		return fmt.Errorf("file header: generation %d in the file of generation %d: %w", g, gen, errCorrupt)
	}
	return nil
}

// appendEntry encodes one entry.
func appendEntry(b []byte, u, m int32, code uint8, ts int64, eh uint64) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(u))
	b = binary.LittleEndian.AppendUint32(b, uint32(m))
	b = append(b, code)
	b = binary.LittleEndian.AppendUint64(b, uint64(ts))
	return binary.LittleEndian.AppendUint64(b, eh)
}

// rawEntry is a decoded entry.
type rawEntry struct {
	u, m int32
	code uint8
	ts   int64
	eh   uint64
}

func decodeEntry(b []byte) rawEntry {
	return rawEntry{u: int32(binary.LittleEndian.Uint32(b)), m: int32(binary.LittleEndian.Uint32(b[4:])), code: b[8],
		ts: int64(binary.LittleEndian.Uint64(b[9:])), eh: binary.LittleEndian.Uint64(b[17:])}
}

// less orders entries by (user, movie).
func (e rawEntry) less(o rawEntry) bool {
	if e.u != o.u {
		return e.u < o.u
	}
	return e.m < o.m
}

func appendID(b []byte, id string) []byte {
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

// readIDs decodes n ids from b and returns what follows them.
func readIDs(b []byte, n int, dst []string) ([]string, []byte, error) {
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l == 0 || l > uint64(len(b)-k) {
			return dst, nil, fmt.Errorf("id %d: bad length: %w", len(dst), errCorrupt)
		}
		dst = append(dst, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return dst, b, nil
}

// frameWriter writes a base file's frames.
type frameWriter struct {
	w    *bufio.Writer
	kind byte
	n    uint32
	buf  []byte
}

// begin starts a frame of kind, closing the current one if its kind
// differs or it is full.
func (f *frameWriter) add(kind byte, item func([]byte) []byte) error {
	if f.n > 0 && (f.kind != kind || len(f.buf) >= frameTarget) {
		if err := f.flush(); err != nil {
			return err
		}
	}
	f.kind = kind
	f.buf = item(f.buf)
	f.n++
	return nil
}

// flush writes the current frame, if any.
func (f *frameWriter) flush() error {
	if f.n == 0 {
		return nil
	}
	var h [frameHeadSize]byte
	h[0] = f.kind
	binary.LittleEndian.PutUint32(h[4:], f.n)
	binary.LittleEndian.PutUint32(h[8:], uint32(len(f.buf)))
	crc := crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, f.buf)
	var t [4]byte
	binary.LittleEndian.PutUint32(t[:], crc)
	for _, b := range [][]byte{h[:], f.buf, t[:]} {
		if _, err := f.w.Write(b); err != nil {
			return err
		}
	}
	f.buf, f.n = f.buf[:0], 0
	return nil
}

// frameReader reads a base file's frames, checking each one's checksum.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
	pos int64 // file offset of the next frame
}

// next returns the next frame's kind, item count and payload (valid until
// the next call); io.EOF at a clean end of file.
func (f *frameReader) next() (byte, int, []byte, error) {
	var h [frameHeadSize]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		if err == io.EOF {
			return 0, 0, nil, io.EOF
		}
		return 0, 0, nil, fmt.Errorf("frame at byte %d: truncated header: %w", f.pos, errCorrupt)
	}
	l := binary.LittleEndian.Uint32(h[8:])
	if l > maxFrame {
		return 0, 0, nil, fmt.Errorf("frame at byte %d: length %d: %w", f.pos, l, errCorrupt)
	}
	if cap(f.buf) < int(l)+4 {
		f.buf = make([]byte, int(l)+4)
	}
	b := f.buf[:int(l)+4]
	if _, err := io.ReadFull(f.r, b); err != nil {
		return 0, 0, nil, fmt.Errorf("frame at byte %d: truncated payload: %w", f.pos, errCorrupt)
	}
	crc := crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, b[:l])
	if crc != binary.LittleEndian.Uint32(b[l:]) {
		return 0, 0, nil, fmt.Errorf("frame at byte %d: checksum mismatch: %w", f.pos, errCorrupt)
	}
	f.pos += int64(frameHeadSize) + int64(l) + 4
	return h[0], int(binary.LittleEndian.Uint32(h[4:])), b[:l], nil
}

// baseMeta is a base file's meta frame.
type baseMeta struct {
	users, movies, entries uint64
	seq                    uint64 // the last segment the base covers
	savedAt                int64
	hash                   Hash
	offsets                map[int32]int64
}

func (m *baseMeta) encode(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, m.users)
	b = binary.LittleEndian.AppendUint64(b, m.movies)
	b = binary.LittleEndian.AppendUint64(b, m.entries)
	b = binary.LittleEndian.AppendUint64(b, m.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.savedAt))
	b = append(b, m.hash[:]...)
	return appendOffsets(b, m.offsets)
}

func decodeMeta(b []byte) (baseMeta, error) {
	if len(b) < 5*8+32+4 {
		return baseMeta{}, fmt.Errorf("meta: short: %w", errCorrupt)
	}
	m := baseMeta{users: binary.LittleEndian.Uint64(b), movies: binary.LittleEndian.Uint64(b[8:]),
		entries: binary.LittleEndian.Uint64(b[16:]), seq: binary.LittleEndian.Uint64(b[24:]),
		savedAt: int64(binary.LittleEndian.Uint64(b[32:]))}
	copy(m.hash[:], b[40:72])
	n := binary.LittleEndian.Uint32(b[72:])
	offs, rest, err := readOffsets(b[76:], int(n))
	if err != nil || len(rest) != 0 {
		return baseMeta{}, fmt.Errorf("meta: offsets: %w", errCorrupt)
	}
	m.offsets = offs
	return m, nil
}

// appendOffsets encodes offsets (count first) sorted by partition.
func appendOffsets(b []byte, offsets map[int32]int64) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(offsets)))
	return appendOffsetList(b, offsets)
}

func appendOffsetList(b []byte, offsets map[int32]int64) []byte {
	for _, p := range sortedKeys(offsets) {
		b = binary.LittleEndian.AppendUint32(b, uint32(p))
		b = binary.LittleEndian.AppendUint64(b, uint64(offsets[p]))
	}
	return b
}

func readOffsets(b []byte, n int) (map[int32]int64, []byte, error) {
	if n < 0 || n*offsetSize > len(b) {
		return nil, nil, fmt.Errorf("offsets: %w", errCorrupt)
	}
	m := make(map[int32]int64, n)
	for range n {
		p, o := int32(binary.LittleEndian.Uint32(b)), int64(binary.LittleEndian.Uint64(b[4:]))
		if p < 0 || o < 0 {
			return nil, nil, fmt.Errorf("offsets: partition %d offset %d: %w", p, o, errCorrupt)
		}
		m[p] = o
		b = b[offsetSize:]
	}
	return m, b, nil
}
