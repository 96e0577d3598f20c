//go:build !amd64

package recommend

func dotBlocks(p, blocks, out []float32) { dotBlocksGo(p, blocks, out) }

func blendScan(collab, content []float32, ca, ta, shift, thr float32) int {
	return blendScanGo(collab, content, ca, ta, shift, thr)
}

func sumRows(off []int, w, b, out []float32) { sumRowsGo(off, w, b, out, 0) }
