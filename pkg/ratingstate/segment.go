package ratingstate

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// segHeader is a log segment's header (see format.go).
type segHeader struct {
	seq                                uint64
	payloadLen                         uint64
	payloadCRC                         uint32
	firstUser, users, firstMovie, movs uint32
	idsLen                             uint64
	entries                            uint64
	positions, offsets                 uint32
	pairs                              uint64
	savedAt                            int64
	hash                               Hash
}

func (h *segHeader) encode() []byte {
	b := make([]byte, 0, segHeaderSize)
	b = append(b, segMagic...)
	b = binary.LittleEndian.AppendUint64(b, h.seq)
	b = binary.LittleEndian.AppendUint64(b, h.payloadLen)
	b = binary.LittleEndian.AppendUint32(b, h.payloadCRC)
	b = binary.LittleEndian.AppendUint32(b, h.firstUser)
	b = binary.LittleEndian.AppendUint32(b, h.users)
	b = binary.LittleEndian.AppendUint32(b, h.firstMovie)
	b = binary.LittleEndian.AppendUint32(b, h.movs)
	b = binary.LittleEndian.AppendUint64(b, h.idsLen)
	b = binary.LittleEndian.AppendUint64(b, h.entries)
	b = binary.LittleEndian.AppendUint32(b, h.positions)
	b = binary.LittleEndian.AppendUint32(b, h.offsets)
	b = binary.LittleEndian.AppendUint64(b, h.pairs)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.savedAt))
	b = append(b, h.hash[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderSize || string(b[:8]) != segMagic {
		return segHeader{}, fmt.Errorf("segment header: bad magic: %w", errCorrupt)
	}
	if crc32.Checksum(b[:segHeaderSize-4], castagnoli) != binary.LittleEndian.Uint32(b[segHeaderSize-4:]) {
		return segHeader{}, fmt.Errorf("segment header: checksum mismatch: %w", errCorrupt)
	}
	le := binary.LittleEndian
	h := segHeader{seq: le.Uint64(b[8:]), payloadLen: le.Uint64(b[16:]), payloadCRC: le.Uint32(b[24:]),
		firstUser: le.Uint32(b[28:]), users: le.Uint32(b[32:]), firstMovie: le.Uint32(b[36:]), movs: le.Uint32(b[40:]),
		idsLen: le.Uint64(b[44:]), entries: le.Uint64(b[52:]), positions: le.Uint32(b[60:]), offsets: le.Uint32(b[64:]),
		pairs: le.Uint64(b[68:]), savedAt: int64(le.Uint64(b[76:]))}
	copy(h.hash[:], b[84:116])
	want := h.idsLen + h.entries*entrySize + uint64(h.positions)*segPosSize + uint64(h.offsets)*offsetSize
	if h.entries > 1<<40 || h.idsLen > 1<<40 || want != h.payloadLen {
		return segHeader{}, fmt.Errorf("segment header: section lengths do not add up: %w", errCorrupt)
	}
	return h, nil
}

// encodeSegment encodes d as segment seq: its changes sorted by (user,
// movie), one per pair (the newest), and its positions one per user (the
// last).
func encodeSegment(d *Delta, seq uint64) []byte {
	ch := d.changes
	slices.SortFunc(ch, func(a, b change) int {
		if c := cmp.Compare(a.user, b.user); c != 0 {
			return c
		}
		return cmp.Compare(a.mv>>codeBits, b.mv>>codeBits)
	})
	pos := slices.Clone(d.positions)
	slices.SortStableFunc(pos, func(a, b userPos) int { return cmp.Compare(a.user, b.user) })

	h := segHeader{seq: seq, firstUser: uint32(d.FirstUser), users: uint32(len(d.UserIDs)),
		firstMovie: uint32(d.FirstMovie), movs: uint32(len(d.MovieIDs)), offsets: uint32(len(d.Offsets)),
		pairs: uint64(d.Len), savedAt: d.SavedAt, hash: d.Hash}
	p := make([]byte, segHeaderSize, segHeaderSize+len(ch)*entrySize+len(pos)*segPosSize+256)
	for _, id := range d.UserIDs {
		p = appendID(p, id)
	}
	for _, id := range d.MovieIDs {
		p = appendID(p, id)
	}
	h.idsLen = uint64(len(p) - segHeaderSize)
	for i := 0; i < len(ch); {
		// The newest of the changes of one pair wins; it is normally the
		// last, as the state accepts only newer events.
		best := ch[i]
		j := i + 1
		for ; j < len(ch) && ch[j].user == best.user && ch[j].mv>>codeBits == best.mv>>codeBits; j++ {
			if newer(ch[j].ts, ch[j].eh, best.ts, best.eh) {
				best = ch[j]
			}
		}
		p = appendEntry(p, best.user, movieOf(best.mv), codeOf(best.mv), best.ts, best.eh)
		h.entries++
		i = j
	}
	for i, up := range pos {
		if i+1 < len(pos) && pos[i+1].user == up.user {
			continue
		}
		p = binary.LittleEndian.AppendUint32(p, uint32(up.user))
		p = binary.LittleEndian.AppendUint32(p, uint32(up.pos.Partition))
		p = binary.LittleEndian.AppendUint64(p, uint64(up.pos.Offset))
		h.positions++
	}
	p = appendOffsetList(p, d.Offsets)
	payload := p[segHeaderSize:]
	h.payloadLen = uint64(len(payload))
	h.payloadCRC = crc32.Checksum(payload, castagnoli)
	copy(p, h.encode())
	return p
}

// segment is a checked segment of a log file.
type segment struct {
	h   segHeader
	off int64 // file offset of its header
}

func (s segment) end() int64 { return s.off + segHeaderSize + int64(s.h.payloadLen) }

// entriesOff is the file offset of the segment's entries.
func (s segment) entriesOff() int64 { return s.off + segHeaderSize + int64(s.h.idsLen) }

// checkSegment reads the segment at off of a file of size bytes and checks
// its header and payload checksums without keeping the payload.
func checkSegment(f io.ReaderAt, off, size int64) (segment, error) {
	if size-off < segHeaderSize {
		return segment{}, fmt.Errorf("segment at byte %d: %d bytes, shorter than a header: %w", off, size-off, errCorrupt)
	}
	var hb [segHeaderSize]byte
	if _, err := f.ReadAt(hb[:], off); err != nil {
		return segment{}, fmt.Errorf("segment at byte %d: read header: %w", off, err)
	}
	h, err := decodeSegHeader(hb[:])
	if err != nil {
		return segment{}, fmt.Errorf("segment at byte %d: %w", off, err)
	}
	s := segment{h: h, off: off}
	if h.payloadLen > uint64(size-off-segHeaderSize) {
		return segment{}, fmt.Errorf("segment %d at byte %d: payload of %d bytes runs past the end of the file: %w",
			h.seq, off, h.payloadLen, errCorrupt)
	}
	c := crc32.New(castagnoli)
	if _, err := io.Copy(c, io.NewSectionReader(f, off+segHeaderSize, int64(h.payloadLen))); err != nil {
		return segment{}, fmt.Errorf("segment %d at byte %d: read payload: %w", h.seq, off, err)
	}
	if c.Sum32() != h.payloadCRC {
		return segment{}, fmt.Errorf("segment %d at byte %d: payload checksum mismatch: %w", h.seq, off, errCorrupt)
	}
	return s, nil
}

// laterSegment reports whether a valid segment starts anywhere in the file
// after byte from: what tells a corrupt segment in the middle of a log from
// a torn last one.
func laterSegment(f io.ReaderAt, from, size int64) bool {
	const window = 4 << 20
	buf := make([]byte, window+len(segMagic))
	for off := from; off < size; off += window {
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return false
		}
		b := buf[:n]
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(segMagic))
			if j < 0 {
				break
			}
			if _, err := checkSegment(f, off+int64(i+j), size); err == nil {
				return true
			}
			i += j + 1
		}
	}
	return false
}

// segmentPayload is a checked segment's ids, positions and offsets (held in
// memory: they are small), with its entries read on demand.
type segmentPayload struct {
	userIDs, movieIDs []string
	positions         []userPos
	offsets           map[int32]int64
}

// readSegmentPayload reads the small sections of a checked segment.
func readSegmentPayload(f io.ReaderAt, s segment) (segmentPayload, error) {
	var p segmentPayload
	ids := make([]byte, s.h.idsLen)
	if _, err := f.ReadAt(ids, s.off+segHeaderSize); err != nil {
		return p, fmt.Errorf("segment %d: read ids: %w", s.h.seq, err)
	}
	var err error
	if p.userIDs, ids, err = readIDs(ids, int(s.h.users), nil); err != nil {
		return p, fmt.Errorf("segment %d: user %w", s.h.seq, err)
	}
	if p.movieIDs, ids, err = readIDs(ids, int(s.h.movs), nil); err != nil {
		return p, fmt.Errorf("segment %d: movie %w", s.h.seq, err)
	}
	if len(ids) != 0 {
		return p, fmt.Errorf("segment %d: %d bytes after the ids: %w", s.h.seq, len(ids), errCorrupt)
	}
	tail := make([]byte, int(s.h.positions)*segPosSize+int(s.h.offsets)*offsetSize)
	if _, err := f.ReadAt(tail, s.entriesOff()+int64(s.h.entries)*entrySize); err != nil {
		return p, fmt.Errorf("segment %d: read positions: %w", s.h.seq, err)
	}
	p.positions = make([]userPos, s.h.positions)
	for i := range p.positions {
		b := tail[i*segPosSize:]
		p.positions[i] = userPos{user: int32(binary.LittleEndian.Uint32(b)),
			pos: Position{Partition: int32(binary.LittleEndian.Uint32(b[4:])), Offset: int64(binary.LittleEndian.Uint64(b[8:]))}}
	}
	if p.offsets, _, err = readOffsets(tail[int(s.h.positions)*segPosSize:], int(s.h.offsets)); err != nil {
		return p, fmt.Errorf("segment %d: %w", s.h.seq, err)
	}
	return p, nil
}

// entryCursor reads a sorted run of entries from a file.
type entryCursor struct {
	r    *bufio.Reader
	left uint64
	cur  rawEntry
	buf  [entrySize]byte
}

func newEntryCursor(f io.ReaderAt, off int64, n uint64, bufSize int) *entryCursor {
	return &entryCursor{r: bufio.NewReaderSize(io.NewSectionReader(f, off, int64(n)*entrySize), bufSize), left: n}
}

// next advances to the next entry; false at the end.
func (c *entryCursor) next() (bool, error) {
	if c.left == 0 {
		return false, nil
	}
	if _, err := io.ReadFull(c.r, c.buf[:]); err != nil {
		return false, fmt.Errorf("read entries: %w", err)
	}
	c.left--
	c.cur = decodeEntry(c.buf[:])
	return true, nil
}
