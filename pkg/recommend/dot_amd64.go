package recommend

// dotBlocks writes, for each block of kernelBlock movies, out[j] = sum over
// f of p[f]*blocks[f][j], summed in order of f with separate multiplies and
// adds (SSE, which every amd64 has), so each value equals the plain
// loop's. len(out) is a multiple of kernelBlock and blocks holds
// len(out)*len(p) values.
//
//go:noescape
func dotBlocks(p, blocks, out []float32)
