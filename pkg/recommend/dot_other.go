//go:build !amd64

package recommend

func dotBlocks(p, blocks, out []float32) { dotBlocksGo(p, blocks, out) }
