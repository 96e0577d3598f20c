package recommend

// dotBlocks writes, for each block of kernelBlock movies, out[j] = sum over
// f of p[f]*blocks[f][j], summed in order of f with separate multiplies and
// adds, so each value equals dotBlocksGo's bit for bit. len(out) is a
// multiple of kernelBlock and blocks holds len(out)*len(p) values.
func dotBlocks(p, blocks, out []float32) {
	if len(blocks) < len(out)*len(p) || len(out)%kernelBlock != 0 {
		panic("recommend: dotBlocks: sizes do not match")
	}
	if avx {
		dotBlocksAVX(p, blocks, out)
		return
	}
	dotBlocksSSE(p, blocks, out)
}

// avx is whether the processor and the operating system support AVX; SSE
// is part of every amd64. It is a fact about the machine, read once.
var avx = hasAVX()

//go:noescape
func dotBlocksSSE(p, blocks, out []float32)

//go:noescape
func dotBlocksAVX(p, blocks, out []float32)

func hasAVX() bool

// blendScan returns the offset of the first group of four movies, from the
// start, holding a blended score ca*collab+ta*content+shift above thr, or
// len(collab) rounded down to four when none does. The scores are those
// of the Go expression, bit for bit.
func blendScan(collab, content []float32, ca, ta, shift, thr float32) int {
	if len(content) < len(collab) {
		panic("recommend: blendScan: sizes do not match")
	}
	return blendScanSSE(collab, content, ca, ta, shift, thr)
}

//go:noescape
func blendScanSSE(collab, content []float32, ca, ta, shift, thr float32) int

// sumRows writes out[c] = sum over q of w[q]*b[off[q]+c] for every c <
// len(out), summed in order of q, each value equal to sumRowsGo's bit for
// bit. Every off[q]+len(out) is at most len(b).
func sumRows(off []int, w, b, out []float32) {
	if len(w) < len(off) {
		panic("recommend: sumRows: sizes do not match")
	}
	for _, o := range off {
		if o < 0 || o+len(out) > len(b) {
			panic("recommend: sumRows: row out of range")
		}
	}
	done := 0
	if avx {
		done = len(out) &^ 63
		sumRowsAVX(off, w, b, out[:done])
	}
	sumRowsGo(off, w, b, out, done)
}

//go:noescape
func sumRowsAVX(off []int, w, b, out []float32)
