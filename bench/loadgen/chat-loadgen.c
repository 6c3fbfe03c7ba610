/*
 * Chat load generator in C, a drop-in for bench/chat-loadgen.ts (same commands, same stats).
 *
 * Why C: on a 2-core machine the generator shares the CPU with the server it measures. The Node
 * generator spends about 10 us of CPU per socket read (event loop, callback, Buffer views), so at
 * 10,000 subscribers and 7 rounds a second it needs most of a core, and what it takes the server
 * loses. Real viewers sit on other machines. Here a read costs what the kernel charges for it.
 *
 * It opens N raw WebSocket clients over loopback (onair's JSON protocol or socket.io/engine.io v4),
 * answers pings, subscribes each to one channel or room, counts every push that carries a send
 * timestamp ("ts":<epoch ms>) and, on sampled connections, records publish-to-receive latency.
 *
 * Protocol on stdin/stdout, one line each way:
 *   -> hello
 *   <- start PROTO N BASE SAMPLE_EVERY CONCURRENCY ROOMS CHANNEL_PATTERN PORTS_CSV ADDRS_CSV
 *   -> {"type":"ready","connected":C,"failed":F}   (C: open so far, F: failed in this start;
 *                                                      another start adds connections)
 *   <- reset            -> {"type":"reset"}
 *   <- stats            -> {"type":"stats",...,"latencies":[...]}   (latencies are then cleared)
 *   <- exit
 * Env LOADGEN_POLL_MS (default 1, 0 = block in epoll): sleep that long, then take every readable
 * socket in one pass, so the server's writes do not each pay for waking this process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSED };
enum { OP_CONT = 0, OP_TEXT = 1, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
#define STDIN_TAG UINT32_MAX
#define MAX_EVENTS 4096
#define READ_BUF (256 * 1024)
#define CODE_SLOTS 5000 /* close codes 0..4999 */

static const char MARKER[] = "\"ts\":";
#define MARKER_LEN (sizeof(MARKER) - 1)

typedef struct {
  int fd;
  uint8_t state;
  uint8_t sample;
  uint16_t port;
  uint32_t addr;  /* source address, network order */
  char *room;     /* owned */
  uint8_t *pend;  /* bytes of an unfinished frame or handshake */
  size_t pend_len, pend_cap;
} Conn;

static int is_sio;
static Conn *conns;
static long n_conns, next_conn, in_flight, connected, failed, closed_count;
static long concurrency;
static int ep;
static int ready_sent;
static long long deliveries, reads;
static double last_delivery_at;
static double *lat;
static size_t lat_len, lat_cap;
static long close_codes[CODE_SLOTS];
static uint8_t rbuf[READ_BUF];
static char path_onair[] = "/connection/websocket";
static char path_sio[] = "/socket.io/?EIO=4&transport=websocket";

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "chat-loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void push_latency(double v) {
  if (lat_len == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 65536;
    lat = realloc(lat, lat_cap * sizeof *lat);
    if (!lat) die("realloc");
  }
  lat[lat_len++] = v;
}

/* send_frame writes one masked client frame (small control and command frames only). */
static void send_frame(Conn *c, int op, const char *payload, size_t n) {
  uint8_t out[16 + 512];
  if (n > 512) return;
  size_t h = 0;
  out[h++] = 0x80 | op;
  if (n < 126) out[h++] = 0x80 | n;
  else { out[h++] = 0x80 | 126; out[h++] = n >> 8; out[h++] = n & 0xff; }
  static uint32_t seed = 2463534242u;
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; /* xorshift: a fresh mask per frame */
  uint8_t mask[4] = { seed, seed >> 8, seed >> 16, seed >> 24 };
  memcpy(out + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < n; i++) out[h + i] = payload[i] ^ mask[i & 3];
  /* A full send buffer would lose this pong: such a client is far behind anyway. */
  (void)!write(c->fd, out, h + n);
}

static void send_text(Conn *c, const char *s) { send_frame(c, OP_TEXT, s, strlen(s)); }

static void close_conn(Conn *c, int code) {
  if (c->state == ST_CLOSED) return;
  int was_open = c->state == ST_OPEN;
  c->state = ST_CLOSED;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_cap = 0;
  if (was_open) {
    closed_count++;
    if (code >= 0 && code < CODE_SLOTS) close_codes[code]++;
  }
}

/* count_and_sample counts pushes carrying a send timestamp; on sampled connections it records latency. */
static void count_and_sample(Conn *c, const uint8_t *p, size_t n) {
  const uint8_t *end = p + n;
  const uint8_t *m = memmem(p, n, MARKER, MARKER_LEN);
  if (!m) return;
  double t = c->sample ? now_ms() : 0;
  while (m) {
    deliveries++;
    const uint8_t *q = m + MARKER_LEN;
    if (c->sample) {
      char num[40];
      size_t k = 0;
      while (q < end && k < sizeof num - 1 && ((*q >= '0' && *q <= '9') || *q == '.')) num[k++] = (char)*q++;
      num[k] = 0;
      double ts = k ? strtod(num, NULL) : 0;
      if (ts > 0) push_latency(t - ts);
    }
    m = memmem(q, (size_t)(end - q), MARKER, MARKER_LEN);
  }
  last_delivery_at = now_ms();
}

static void on_text(Conn *c, const uint8_t *p, size_t n) {
  if (!is_sio) {
    if (n == 2 && p[0] == '{' && p[1] == '}') { send_text(c, "{}"); return; } /* server ping -> pong */
  } else {
    if (n == 1 && p[0] == '2') { send_text(c, "3"); return; }                 /* engine.io ping */
    if (n >= 2 && p[0] == '4' && p[1] == '0') {                               /* namespace connected */
      char join[300];
      snprintf(join, sizeof join, "42[\"join\",\"%s\"]", c->room);
      send_text(c, join);
      return;
    }
    if (n >= 1 && p[0] == '0') { send_text(c, "40"); return; }                /* engine.io open */
  }
  count_and_sample(c, p, n);
}

/* parse_frames consumes whole frames; answers how many bytes it used, or -1 when the connection closed. */
static long parse_frames(Conn *c, const uint8_t *b, size_t len) {
  size_t off = 0;
  while (len - off >= 2) {
    uint8_t b0 = b[off], b1 = b[off + 1];
    uint64_t n = b1 & 0x7f;
    size_t hl = 2;
    if (n == 126) {
      if (len - off < 4) break;
      n = ((uint64_t)b[off + 2] << 8) | b[off + 3];
      hl = 4;
    } else if (n == 127) {
      if (len - off < 10) break;
      n = 0;
      for (int i = 0; i < 8; i++) n = (n << 8) | b[off + 2 + i];
      hl = 10;
    }
    if (b1 & 0x80) hl += 4; /* a server must not mask, but skip the key if it does */
    if (len - off < hl + n) break;
    const uint8_t *pl = b + off + hl;
    int op = b0 & 0x0f;
    off += hl + n;
    if (op == OP_TEXT || op == OP_CONT) on_text(c, pl, n);
    else if (op == OP_PING) send_frame(c, OP_PONG, (const char *)pl, n);
    else if (op == OP_CLOSE) {
      close_conn(c, n >= 2 ? (pl[0] << 8) | pl[1] : 1005);
      return -1;
    }
  }
  return (long)off;
}

static void keep_pending(Conn *c, const uint8_t *b, size_t n) {
  if (n > c->pend_cap) {
    c->pend_cap = n < 4096 ? 4096 : n;
    uint8_t *p = malloc(c->pend_cap);
    if (!p) die("malloc");
    free(c->pend);
    c->pend = p;
  }
  memmove(c->pend, b, n);
  c->pend_len = n;
}

static void start_next(void);

static void on_upgraded(Conn *c) {
  c->state = ST_OPEN;
  connected++;
  in_flight--;
  if (!is_sio) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"%s\"}}", c->room);
    send_text(c, cmd);
  }
  start_next();
}

static void fail_conn(Conn *c) {
  if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE) {
    failed++;
    in_flight--;
    c->state = ST_CLOSED;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pend);
    c->pend = NULL;
    start_next();
  } else {
    close_conn(c, 1006);
  }
}

static void on_readable(Conn *c) {
  for (;;) {
    ssize_t r = read(c->fd, rbuf, sizeof rbuf);
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail_conn(c);
      return;
    }
    if (r == 0) { fail_conn(c); return; }
    reads++;
    const uint8_t *b = rbuf;
    size_t n = (size_t)r;
    if (c->pend_len) {
      if (c->pend_len + n > c->pend_cap) {
        size_t cap = (c->pend_len + n) * 2;
        uint8_t *p = realloc(c->pend, cap);
        if (!p) die("realloc");
        c->pend = p;
        c->pend_cap = cap;
      }
      memcpy(c->pend + c->pend_len, rbuf, n);
      n += c->pend_len;
      b = c->pend;
      c->pend_len = 0;
    }
    if (c->state == ST_HANDSHAKE) {
      const uint8_t *e = memmem(b, n, "\r\n\r\n", 4);
      if (!e) { keep_pending(c, b, n); goto more; }
      if (n < 12 || memcmp(b, "HTTP/1.1 101", 12) != 0) { fail_conn(c); return; }
      size_t skip = (size_t)(e - b) + 4;
      on_upgraded(c);
      b += skip;
      n -= skip;
    }
    {
      long used = parse_frames(c, b, n);
      if (used < 0) return;
      if ((size_t)used < n) keep_pending(c, b + used, n - (size_t)used);
    }
  more:
    /* A short read drained the socket; level-triggered epoll reports it again when more comes. */
    if ((size_t)r < sizeof rbuf) return;
  }
}

static void on_writable(Conn *c) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err) { fail_conn(c); return; }
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: b25haXItY2hhdC1iZW5jaA==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   is_sio ? path_sio : path_onair, c->port);
  if (write(c->fd, req, (size_t)n) != n) { fail_conn(c); return; }
  c->state = ST_HANDSHAKE;
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(c - conns) };
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void start_next(void) {
  while (in_flight < concurrency && next_conn < n_conns) {
    Conn *c = &conns[next_conn++];
    in_flight++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { failed++; in_flight--; c->state = ST_CLOSED; continue; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = c->addr };
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(c->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    c->state = ST_CONNECTING;
    struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns) };
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0 ||
        (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) ||
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
      failed++;
      in_flight--;
      close(c->fd);
      c->state = ST_CLOSED;
    }
  }
  if (!ready_sent && in_flight == 0 && next_conn >= n_conns) {
    ready_sent = 1;
    printf("{\"type\":\"ready\",\"connected\":%ld,\"failed\":%ld}\n", connected, failed);
    fflush(stdout);
  }
}

/* split_csv splits a comma list in place; answers the count. */
static int split_csv(char *s, char **out, int max) {
  int k = 0;
  for (char *t = strtok(s, ","); t && k < max; t = strtok(NULL, ",")) out[k++] = t;
  return k;
}

static void cmd_start(char *line) {
  char proto[16], pattern[256], ports_csv[1024], addrs_csv[1024];
  long n, base, sample_every, conc, rooms;
  if (sscanf(line, "start %15s %ld %ld %ld %ld %ld %255s %1023s %1023s", proto, &n, &base, &sample_every, &conc, &rooms,
             pattern, ports_csv, addrs_csv) != 9) {
    fprintf(stderr, "chat-loadgen: bad start line\n");
    exit(2);
  }
  is_sio = strcmp(proto, "sio") == 0;
  concurrency = conc > 0 ? conc : 200;
  char *ports_s[64], *addrs_s[64];
  int np = split_csv(ports_csv, ports_s, 64), na = split_csv(addrs_csv, addrs_s, 64);
  if (np == 0 || na == 0) { fprintf(stderr, "chat-loadgen: no ports or addresses\n"); exit(2); }
  /* Another start adds connections (chat-conn grows in steps); epoll tags are indexes, so they survive the realloc. */
  long first = n_conns;
  n_conns += n;
  conns = realloc(conns, (size_t)n_conns * sizeof *conns);
  if (!conns) die("realloc");
  memset(conns + first, 0, (size_t)n * sizeof *conns);
  ready_sent = 0;
  failed = 0;
  const char *brace = strstr(pattern, "{i}");
  for (long i = 0; i < n; i++) {
    long idx = base + i;
    Conn *c = &conns[first + i];
    c->fd = -1;
    c->sample = sample_every > 0 && idx % sample_every == 0;
    c->port = (uint16_t)atoi(ports_s[idx % np]);
    inet_pton(AF_INET, addrs_s[idx % na], &c->addr);
    char room[300];
    if (brace) snprintf(room, sizeof room, "%.*s%ld%s", (int)(brace - pattern), pattern, rooms > 0 ? idx % rooms : 0, brace + 3);
    else snprintf(room, sizeof room, "%s", pattern);
    c->room = strdup(room);
  }
  start_next();
}

static void cmd_stats(void) {
  long open = connected - closed_count;
  printf("{\"type\":\"stats\",\"deliveries\":%lld,\"reads\":%lld,\"lastDeliveryAt\":%.0f,\"closed\":%ld,\"open\":%ld,\"closeCodes\":{",
         deliveries, reads, last_delivery_at, closed_count, open);
  int first = 1;
  for (int i = 0; i < CODE_SLOTS; i++)
    if (close_codes[i]) { printf("%s\"%d\":%ld", first ? "" : ",", i, close_codes[i]); first = 0; }
  printf("},\"latencies\":[");
  for (size_t i = 0; i < lat_len; i++) printf("%s%.3f", i ? "," : "", lat[i]);
  printf("]}\n");
  fflush(stdout);
  lat_len = 0;
}

static char line_buf[8192];
static size_t line_len;

static void on_stdin(void) {
  ssize_t r = read(0, line_buf + line_len, sizeof line_buf - 1 - line_len);
  if (r <= 0) exit(0); /* the parent went away */
  line_len += (size_t)r;
  char *nl;
  while ((nl = memchr(line_buf, '\n', line_len))) {
    *nl = 0;
    if (strncmp(line_buf, "start ", 6) == 0) cmd_start(line_buf);
    else if (strcmp(line_buf, "reset") == 0) {
      deliveries = reads = 0;
      lat_len = 0;
      last_delivery_at = 0;
      printf("{\"type\":\"reset\"}\n");
      fflush(stdout);
    } else if (strcmp(line_buf, "stats") == 0) cmd_stats();
    else if (strcmp(line_buf, "exit") == 0) exit(0);
    size_t used = (size_t)(nl - line_buf) + 1;
    memmove(line_buf, nl + 1, line_len - used);
    line_len -= used;
  }
  if (line_len == sizeof line_buf - 1) line_len = 0; /* an overlong line is dropped */
}

int main(void) {
  const char *poll_env = getenv("LOADGEN_POLL_MS");
  double poll_ms = poll_env ? atof(poll_env) : 1;
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event sev = { .events = EPOLLIN, .data.u32 = STDIN_TAG };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0) die("epoll stdin");
  printf("{\"type\":\"hello\"}\n");
  fflush(stdout);
  static struct epoll_event evs[MAX_EVENTS];
  struct timespec nap = { 0, (long)(poll_ms * 1e6) };
  for (;;) {
    if (poll_ms > 0) nanosleep(&nap, NULL);
    int got;
    do {
      got = epoll_wait(ep, evs, MAX_EVENTS, poll_ms > 0 ? 0 : -1);
      if (got < 0) {
        if (errno == EINTR) break;
        die("epoll_wait");
      }
      for (int i = 0; i < got; i++) {
        uint32_t tag = evs[i].data.u32;
        if (tag == STDIN_TAG) { on_stdin(); continue; }
        Conn *c = &conns[tag];
        if (c->state == ST_CLOSED) continue;
        if (c->state == ST_CONNECTING) {
          if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
          continue;
        }
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
      }
    } while (got == MAX_EVENTS);
  }
}
