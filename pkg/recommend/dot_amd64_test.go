package recommend

func dotBlocksImpls() map[string]func(p, blocks, out []float32) {
	impls := map[string]func(p, blocks, out []float32){"dotBlocks": dotBlocks, "sse": dotBlocksSSE}
	if avx {
		impls["avx"] = dotBlocksAVX
	}
	return impls
}
