#include "textflag.h"

// The block loops below multiply and add in separate instructions (never a
// fused multiply-add), in order of the factor, so each value is rounded
// exactly as in the Go loop. A block is 64 movies: out[j] for j < 64 sums
// p[f]*blocks[f*64+j] over f.

// func dotBlocksSSE(p, blocks, out []float32)
//
// Each block in two halves of 32 movies: eight accumulators of 4 lanes,
// one broadcast of p[f] per factor.
TEXT ·dotBlocksSSE(SB), NOSPLIT, $0-72
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	MOVQ blocks_base+24(FP), DI
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), BX
	SHRQ $6, BX // blocks
	TESTQ BX, BX
	JZ   sse_done
	MOVQ CX, R12
	SHLQ $8, R12 // bytes per block: k*64*4

sse_block:
	MOVQ DI, R13
	MOVQ $2, R11

sse_half:
	XORPS X0, X0
	XORPS X1, X1
	XORPS X2, X2
	XORPS X3, X3
	XORPS X4, X4
	XORPS X5, X5
	XORPS X6, X6
	XORPS X7, X7
	MOVQ SI, R8
	MOVQ R13, R10
	MOVQ CX, R9
	TESTQ R9, R9
	JZ   sse_store

sse_factor:
	MOVSS  (R8), X8
	SHUFPS $0, X8, X8
	MOVUPS (R10), X9
	MOVUPS 16(R10), X10
	MOVUPS 32(R10), X11
	MOVUPS 48(R10), X12
	MULPS  X8, X9
	MULPS  X8, X10
	MULPS  X8, X11
	MULPS  X8, X12
	ADDPS  X9, X0
	ADDPS  X10, X1
	ADDPS  X11, X2
	ADDPS  X12, X3
	MOVUPS 64(R10), X9
	MOVUPS 80(R10), X10
	MOVUPS 96(R10), X11
	MOVUPS 112(R10), X12
	MULPS  X8, X9
	MULPS  X8, X10
	MULPS  X8, X11
	MULPS  X8, X12
	ADDPS  X9, X4
	ADDPS  X10, X5
	ADDPS  X11, X6
	ADDPS  X12, X7
	ADDQ   $4, R8
	ADDQ   $256, R10
	DECQ   R9
	JNZ    sse_factor

sse_store:
	MOVUPS X0, (DX)
	MOVUPS X1, 16(DX)
	MOVUPS X2, 32(DX)
	MOVUPS X3, 48(DX)
	MOVUPS X4, 64(DX)
	MOVUPS X5, 80(DX)
	MOVUPS X6, 96(DX)
	MOVUPS X7, 112(DX)
	ADDQ   $128, DX
	ADDQ   $128, R13
	DECQ   R11
	JNZ    sse_half
	ADDQ   R12, DI
	DECQ   BX
	JNZ    sse_block

sse_done:
	RET

// func dotBlocksAVX(p, blocks, out []float32)
//
// Each block at once: eight accumulators of 8 lanes.
TEXT ·dotBlocksAVX(SB), NOSPLIT, $0-72
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	MOVQ blocks_base+24(FP), DI
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), BX
	SHRQ $6, BX // blocks
	TESTQ BX, BX
	JZ   avx_done

avx_block:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ SI, R8
	MOVQ CX, R9
	TESTQ R9, R9
	JZ   avx_store

avx_factor:
	VBROADCASTSS (R8), Y8
	VMULPS (DI), Y8, Y9
	VMULPS 32(DI), Y8, Y10
	VMULPS 64(DI), Y8, Y11
	VMULPS 96(DI), Y8, Y12
	VADDPS Y9, Y0, Y0
	VADDPS Y10, Y1, Y1
	VADDPS Y11, Y2, Y2
	VADDPS Y12, Y3, Y3
	VMULPS 128(DI), Y8, Y9
	VMULPS 160(DI), Y8, Y10
	VMULPS 192(DI), Y8, Y11
	VMULPS 224(DI), Y8, Y12
	VADDPS Y9, Y4, Y4
	VADDPS Y10, Y5, Y5
	VADDPS Y11, Y6, Y6
	VADDPS Y12, Y7, Y7
	ADDQ   $4, R8
	ADDQ   $256, DI
	DECQ   R9
	JNZ    avx_factor

avx_store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	ADDQ    $256, DX
	DECQ    BX
	JNZ     avx_block

avx_done:
	VZEROUPPER
	RET

// func hasAVX() bool
TEXT ·hasAVX(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	// ECX: bit 27 OSXSAVE, bit 28 AVX.
	ANDL $0x18000000, CX
	CMPL CX, $0x18000000
	JNE  no_avx
	// XCR0: the OS saves the XMM (bit 1) and YMM (bit 2) state.
	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no_avx
	MOVB $1, ret+0(FP)
	RET

no_avx:
	MOVB $0, ret+0(FP)
	RET

// func blendScanSSE(collab, content []float32, ca, ta, shift, thr float32) int
//
// Four movies at a time: ca*collab + ta*content + shift, multiplied and
// added in the Go expression's order, compared with thr (ordered: NaN is
// never above). Returns the offset of the first group of four holding a
// score above thr, or len(collab) rounded down to four.
TEXT ·blendScanSSE(SB), NOSPLIT, $0-72
	MOVQ   collab_base+0(FP), SI
	MOVQ   collab_len+8(FP), CX
	MOVQ   content_base+24(FP), DI
	MOVSS  ca+48(FP), X4
	SHUFPS $0, X4, X4
	MOVSS  ta+52(FP), X5
	SHUFPS $0, X5, X5
	MOVSS  shift+56(FP), X6
	SHUFPS $0, X6, X6
	MOVSS  thr+60(FP), X7
	SHUFPS $0, X7, X7
	ANDQ   $-4, CX
	XORQ   AX, AX

scan:
	CMPQ     AX, CX
	JGE      scan_done
	MOVUPS   (SI)(AX*4), X0
	MOVUPS   (DI)(AX*4), X1
	MULPS    X4, X0
	MULPS    X5, X1
	ADDPS    X1, X0
	ADDPS    X6, X0
	MOVAPS   X7, X2
	CMPPS    X0, X2, $1 // thr < score
	MOVMSKPS X2, DX
	TESTL    DX, DX
	JNZ      scan_done
	ADDQ     $4, AX
	JMP      scan

scan_done:
	MOVQ AX, ret+64(FP)
	RET

// func sumRowsAVX(off []int, w []float32, b []float32, out []float32)
//
// out[c] = sum over q of w[q]*b[off[q]+c], summed in order of q, for c <
// len(out) (a multiple of 64): 64 columns at a time held in eight
// accumulators of 8 lanes, each row's slice read once per chunk.
TEXT ·sumRowsAVX(SB), NOSPLIT, $0-96
	MOVQ off_base+0(FP), SI
	MOVQ off_len+8(FP), CX
	MOVQ w_base+24(FP), R11
	MOVQ b_base+48(FP), DI
	MOVQ out_base+72(FP), DX
	MOVQ out_len+80(FP), BX
	SHRQ $6, BX // chunks
	TESTQ BX, BX
	JZ   rows_done
	XORQ R13, R13 // byte offset of the chunk

rows_chunk:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ R9, R9 // q
	CMPQ R9, CX
	JGE  rows_store

rows_row:
	MOVQ         (SI)(R9*8), R10
	LEAQ         (DI)(R10*4), R10
	ADDQ         R13, R10
	VBROADCASTSS (R11)(R9*4), Y8
	VMULPS       (R10), Y8, Y9
	VMULPS       32(R10), Y8, Y10
	VMULPS       64(R10), Y8, Y11
	VMULPS       96(R10), Y8, Y12
	VADDPS       Y9, Y0, Y0
	VADDPS       Y10, Y1, Y1
	VADDPS       Y11, Y2, Y2
	VADDPS       Y12, Y3, Y3
	VMULPS       128(R10), Y8, Y9
	VMULPS       160(R10), Y8, Y10
	VMULPS       192(R10), Y8, Y11
	VMULPS       224(R10), Y8, Y12
	VADDPS       Y9, Y4, Y4
	VADDPS       Y10, Y5, Y5
	VADDPS       Y11, Y6, Y6
	VADDPS       Y12, Y7, Y7
	INCQ         R9
	CMPQ         R9, CX
	JLT          rows_row

rows_store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	ADDQ    $256, DX
	ADDQ    $256, R13
	DECQ    BX
	JNZ     rows_chunk

rows_done:
	VZEROUPPER
	RET
