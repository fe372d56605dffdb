/*
 * libevq.a with nothing else: no C library, no start files, no libgcc.
 * What a seL4 C client domain links (docs/c-api.md, "In a seL4 C client
 * domain"). It calls the no_std layer once each way a domain does: a
 * filter and a SUBSCRIBE message in its own buffer, and a ring over memory
 * that is not one (refused in a code). It is only linked, never run: the
 * link fails if the library needs any symbol it does not bring itself.
 */
#include "evq.h"

static uint8_t not_a_ring[2 * 4096] __attribute__((aligned(4096)));

int32_t evq_freestanding_client(void);

int32_t evq_freestanding_client(void) {
    struct evq_filter filter;
    uint8_t body[64];
    uint32_t label = 0;
    struct evq_ring ring;
    if (evq_filter_all(EVQ_CATEGORY_VFS, &filter) != EVQ_OK)
        return -1;
    /* The body's length, or a negative code. */
    if (evq_encode_subscribe(1, &filter, body, sizeof body, &label) < 0)
        return -1;
    return evq_ring_init(&ring, not_a_ring, sizeof not_a_ring);
}

/* The entry point a domain's own start code would be. */
void _start(void) {
    (void)evq_freestanding_client();
    for (;;) {
    }
}
