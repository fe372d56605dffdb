/*
 * evq-tail: attach to a running hosted evq system, watch its file system,
 * and print each event as it arrives, one line each:
 *
 *     create object=2 name=1:docs dir
 *     rename object=3 from=2:a to=2:b
 *
 * Usage: evq-tail [CONSOLE [COUNT]]. CONSOLE is the system's console
 * socket ("-" or none: the default place). After COUNT events it prints
 * the queue's statistics, destroys the queue and exits 0 (no COUNT: it
 * runs until it fails, for example when the system stops).
 *
 * Built by `make test` against libevq.a and run against a hosted system by
 * platform/hosted/evq-hosted/tests/clients.rs; docs/c-api.md walks through it.
 */
#define EVQ_HOSTED 1
#include "evq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int code, struct evq_client *client)
{
    fprintf(stderr, "evq-tail: %s: %s", what, evq_strerror(code));
    if (client != NULL && *evq_client_last_error(client) != '\0')
        fprintf(stderr, " (%s)", evq_client_last_error(client));
    fprintf(stderr, "\n");
    evq_client_close(client);
    return 1;
}

static void print_event(const struct evq_event *ev)
{
    size_t len;
    const char *kind = evq_kind_name(ev->category, ev->kind, &len);
    printf("%.*s object=%llu", (int)len, kind, (unsigned long long)ev->object_id);
    if (ev->kind == EVQ_VFS_RENAME) {
        struct evq_rename r;
        if (evq_decode_rename(ev->payload, ev->payload_len, &r) == EVQ_OK)
            printf(" from=%llu:%.*s to=%llu:%.*s", (unsigned long long)r.old_parent, (int)r.old_name_len,
                   (const char *)r.old_name, (unsigned long long)r.new_parent, (int)r.new_name_len,
                   (const char *)r.new_name);
    } else if (ev->kind == EVQ_VFS_MOUNT || ev->kind == EVQ_VFS_UNMOUNT) {
        struct evq_mount m;
        if (evq_decode_mount(ev->payload, ev->payload_len, &m) == EVQ_OK)
            printf(" at=%llu:%.*s fs=%llu", (unsigned long long)m.parent, (int)m.name_len, (const char *)m.name,
                   (unsigned long long)m.fs_id);
    } else {
        struct evq_dentry d;
        if (evq_decode_dentry(ev->payload, ev->payload_len, &d) == EVQ_OK)
            printf(" name=%llu:%.*s", (unsigned long long)d.parent, (int)d.name_len, (const char *)d.name);
    }
    if (ev->type_flags & EVQ_VFS_FLAG_IS_DIR)
        printf(" dir");
    printf("\n");
}

int main(int argc, char **argv)
{
    const char *console = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : -1;
    struct evq_client *client = NULL;
    struct evq_ring ring;
    struct evq_filter filter;
    struct evq_entry entry;
    struct evq_event ev;
    uint32_t queue;
    long seen = 0;
    int r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((r = evq_hosted_connect(console, NULL, &client)) < 0)
        return fail("connect", r, NULL);
    if ((r = evq_client_create_queue(client, 4, &queue, &ring)) < 0)
        return fail("create queue", r, client);
    if ((r = evq_filter_all(EVQ_CATEGORY_VFS, &filter)) < 0 ||
        (r = evq_client_subscribe(client, queue, &filter, NULL)) < 0)
        return fail("subscribe", r, client);
    printf("watching queue %u\n", queue);

    while (count < 0 || seen < count) {
        r = evq_ring_next(&ring, &entry);
        if (r < 0)
            return fail("read", r, client);
        if (r == EVQ_ENTRY_NONE) {
            /* Sleeps by the wake-up protocol; 0 is a timeout: look again. */
            if ((r = evq_client_wait(client, queue, 1000)) < 0)
                return fail("wait", r, client);
            continue;
        }
        if (r == EVQ_ENTRY_LOSS) {
            printf("lost %llu\n", (unsigned long long)entry.lost);
            continue;
        }
        if (r == EVQ_ENTRY_SKIP)
            continue;
        if ((r = evq_event_decode(&entry, &ev)) < 0)
            return fail("decode", r, client);
        print_event(&ev);
        seen++;
    }

    /* Any other request: encoded into a buffer, sent, its reply decoded. */
    uint8_t body[EVQ_MAX_MSG_BYTES];
    uint32_t label;
    struct evq_reply reply;
    if ((r = evq_encode_stats(EVQ_STATS_QUEUE, queue, body, sizeof body, &label)) < 0 ||
        (r = evq_client_call(client, label, body, (size_t)r, &reply)) < 0)
        return fail("stats", r, client);
    printf("stats delivered=%llu dropped=%llu\n", (unsigned long long)reply.stats.counters[EVQ_COUNTER_DELIVERED],
           (unsigned long long)reply.stats.counters[EVQ_COUNTER_DROPPED]);
    if ((r = evq_client_destroy_queue(client, queue)) < 0)
        return fail("destroy queue", r, client);
    evq_client_close(client);
    return 0;
}
