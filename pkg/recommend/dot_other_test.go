//go:build !amd64

package recommend

func dotBlocksImpls() map[string]func(p, blocks, out []float32) {
	return map[string]func(p, blocks, out []float32){"dotBlocks": dotBlocks}
}
