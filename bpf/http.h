/* SPDX-License-Identifier: GPL-2.0 */
/* HTTP/1.x detection on the first bytes of a TCP payload: a request line's method, or a status
 * line's version and code. Nothing past those first 16 bytes is read. */
#ifndef OWLK8S_HTTP_H
#define OWLK8S_HTTP_H

#include "owlk8s.h"

#define HTTP_HEAD_LEN 16

#define W4(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

enum http_kind {
	HTTP_NONE = 0,
	HTTP_REQUEST = 1,
	HTTP_RESPONSE = 2,
};

struct http_head {
	__u8 kind;
	__u8 method;     /* requests */
	__u8 http_minor; /* responses */
	__u8 _pad;
	__u16 status;    /* responses */
};

static __always_inline __u32 w4(const __u8 *b)
{
	__u32 w;
	__builtin_memcpy(&w, b, 4);
	return w;
}

static __always_inline int is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* b holds the payload's first bytes, zero-filled past its end (zeros match no token). */
static __always_inline void http_detect(const __u8 *b, struct http_head *h)
{
	__u32 w = w4(b);
	h->kind = HTTP_REQUEST;
	switch (w) {
	case W4('G', 'E', 'T', ' '):
		h->method = OWLK8S_GET;
		return;
	case W4('P', 'U', 'T', ' '):
		h->method = OWLK8S_PUT;
		return;
	case W4('P', 'O', 'S', 'T'):
		h->method = OWLK8S_POST;
		if (b[4] == ' ')
			return;
		break;
	case W4('H', 'E', 'A', 'D'):
		h->method = OWLK8S_HEAD;
		if (b[4] == ' ')
			return;
		break;
	case W4('D', 'E', 'L', 'E'):
		h->method = OWLK8S_DELETE;
		if (b[4] == 'T' && b[5] == 'E' && b[6] == ' ')
			return;
		break;
	case W4('O', 'P', 'T', 'I'):
		h->method = OWLK8S_OPTIONS;
		if (w4(b + 4) == W4('O', 'N', 'S', ' '))
			return;
		break;
	case W4('P', 'A', 'T', 'C'):
		h->method = OWLK8S_PATCH;
		if (b[4] == 'H' && b[5] == ' ')
			return;
		break;
	case W4('C', 'O', 'N', 'N'):
		h->method = OWLK8S_CONNECT;
		if (w4(b + 4) == W4('E', 'C', 'T', ' '))
			return;
		break;
	case W4('T', 'R', 'A', 'C'):
		h->method = OWLK8S_TRACE;
		if (b[4] == 'E' && b[5] == ' ')
			return;
		break;
	case W4('H', 'T', 'T', 'P'):
		/* "HTTP/1.x NNN" */
		if (w4(b + 4) == W4('/', '1', '.', '1') || w4(b + 4) == W4('/', '1', '.', '0')) {
			if (b[8] == ' ' && b[9] >= '1' && b[9] <= '5' && is_digit(b[10]) && is_digit(b[11])) {
				h->kind = HTTP_RESPONSE;
				h->http_minor = b[7] - '0';
				h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
				return;
			}
		}
		break;
	}
	h->kind = HTTP_NONE;
}

#endif
