// SPDX-License-Identifier: Apache-2.0
// Replays recorded frames through BPF_PROG_TEST_RUN, one run per frame, for bench/kernel-replay.ts:
// the program is the socket filter on file descriptor 3, the frames a file of (u32 length, frame)
// records, each frame from its Ethernet header. The kernel runs a socket filter with skb->data
// past the Ethernet header it pulled; an outer dummy header (ethertype 0x88b5, which eth_type_trans
// leaves alone) makes it pull that one, so the program sees each frame as an AF_PACKET socket's
// filter does (packages/ebpf/src/prog-test-run.ts does the same). The context gives ifindex 1.
// Prints one line per frame class, even frames and odd frames: "even MEDIAN MEAN" and "odd MEDIAN
// MEAN", nanoseconds of the kernel's own timing of each run. A tight loop in one process: the
// program's code and maps stay warm in this CPU's caches between two frames.
// Build: cc -O2 -o replay replay.c
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROG_FD 3
#define MAX_FRAME 2048

static int by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, uint32_t *ns, long n)
{
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += ns[i];
	qsort(ns, n, sizeof(*ns), by_value);
	printf("%s %u %.1f\n", name, ns[n / 2], sum / n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FRAMES (the program on fd 3)\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *all = malloc(size);
	if (!all || fread(all, 1, size, f) != (size_t)size) {
		fprintf(stderr, "%s: cannot read %ld bytes\n", argv[1], size);
		return 1;
	}
	long frames = 0;
	for (long at = 0; at + 4 <= size; frames++) {
		uint32_t len;
		memcpy(&len, all + at, 4);
		if (len > MAX_FRAME) {
			fprintf(stderr, "%s: frame %ld is %u bytes; at most %d\n", argv[1], frames, len, MAX_FRAME);
			return 1;
		}
		at += 4 + len;
	}
	uint32_t *even = malloc((frames / 2 + 1) * sizeof(uint32_t)), *odd = malloc((frames / 2 + 1) * sizeof(uint32_t));
	long ne = 0, no = 0;
	static unsigned char data[14 + MAX_FRAME];
	unsigned char ctx[48]; /* struct __sk_buff up to ifindex */
	long at = 0;
	for (long i = 0; i < frames; i++) {
		uint32_t len;
		memcpy(&len, all + at, 4);
		memset(data, 0, 12);
		data[12] = 0x88;
		data[13] = 0xb5;
		memcpy(data + 14, all + at + 4, len);
		at += 4 + len;
		memset(ctx, 0, sizeof(ctx));
		uint32_t ifindex = 1;
		memcpy(ctx + 40, &ifindex, 4);
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.test.prog_fd = PROG_FD;
		attr.test.data_size_in = 14 + len;
		attr.test.data_in = (uint64_t)(uintptr_t)data;
		attr.test.ctx_size_in = sizeof(ctx);
		attr.test.ctx_in = (uint64_t)(uintptr_t)ctx;
		attr.test.repeat = 1;
		if (syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof(attr)) < 0) {
			perror("BPF_PROG_TEST_RUN");
			return 1;
		}
		if (i % 2 == 0)
			even[ne++] = attr.test.duration;
		else
			odd[no++] = attr.test.duration;
	}
	report("even", even, ne);
	report("odd", odd, no);
	return 0;
}
