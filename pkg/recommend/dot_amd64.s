#include "textflag.h"

// func dotBlocks(p, blocks, out []float32)
//
// For each block of 16 movies: four accumulators of 4 lanes, one broadcast
// of p[f] per factor, MULPS then ADDPS (never a fused multiply-add, so the
// rounding is the Go loop's).
TEXT ·dotBlocks(SB), NOSPLIT, $0-72
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	MOVQ blocks_base+24(FP), DI
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), BX
	SHRQ $4, BX
	TESTQ BX, BX
	JZ   done

block:
	XORPS X0, X0
	XORPS X1, X1
	XORPS X2, X2
	XORPS X3, X3
	MOVQ SI, R8
	MOVQ CX, R9
	TESTQ R9, R9
	JZ   store

factor:
	MOVSS  (R8), X4
	SHUFPS $0, X4, X4
	MOVUPS (DI), X5
	MOVUPS 16(DI), X6
	MOVUPS 32(DI), X7
	MOVUPS 48(DI), X8
	MULPS  X4, X5
	MULPS  X4, X6
	MULPS  X4, X7
	MULPS  X4, X8
	ADDPS  X5, X0
	ADDPS  X6, X1
	ADDPS  X7, X2
	ADDPS  X8, X3
	ADDQ   $4, R8
	ADDQ   $64, DI
	DECQ   R9
	JNZ    factor

store:
	MOVUPS X0, (DX)
	MOVUPS X1, 16(DX)
	MOVUPS X2, 32(DX)
	MOVUPS X3, 48(DX)
	ADDQ   $64, DX
	DECQ   BX
	JNZ    block

done:
	RET
