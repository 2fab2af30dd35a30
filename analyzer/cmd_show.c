/* cmd_show.c: the `show` command: the chunk that holds an address, its type and why, and a hexdump. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../refgraph/refgraph.h"
#include "analyzer.h"
#include "cli.h"

static const char hs_show_usage[] =
	"Usage: heapscope show CORE ADDRESS [options]\n"
	"\n"
	"Find the heap chunk that contains ADDRESS (0x... or decimal) in the core:\n"
	"print its address, size and state, the type heapscope gives it and why\n"
	"(e.g. the vtable its first word points at), why it is alive (the shortest\n"
	"chain of references from a root: a register, a stack slot, a module's\n"
	"global, TLS) or that it is leaked (direct, or indirect and which leaked\n"
	"chunks refer to it), what freeing it would free (its retained size),\n"
	"and a hexdump of its start.\n"
	"\n"
	"Options:\n"
	"  --bytes N          usable bytes of the chunk to hexdump (default 256)\n"
	"  --redact           print no heap content: no hexdump; the reason line\n"
	"                     keeps only lengths, offsets and addresses\n"
	HS_CLI_CORE_HELP
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 shown; 2 the core is unusable or no heap chunk contains\n"
	"ADDRESS; 64 usage error.\n";

struct hs_show_args {
	const char *core;
	uint64_t address, bytes;
	struct hs_analyze_options opts;
};

static int hs_show_parse(int argc, char **argv, struct hs_show_args *a)
{
	enum { OPT_BYTES = HS_OPT_COMMAND };
	static const struct option longopts[] = {
		HS_CLI_CORE_OPTIONS,
		HS_CLI_REDACT_OPTION,
		{"bytes", required_argument, NULL, OPT_BYTES},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(a, 0, sizeof(*a));
	a->bytes = 256;
	hs_cli_options_begin();
	int c;
	while ((c = hs_cli_next_option(argc, argv, "show", longopts, &a->opts)) != -1) {
		switch (c) {
		case OPT_BYTES:
			if (!hs_cli_parse_count("--bytes", optarg, 1 << 20, &a->bytes))
				return HS_EXIT_USAGE;
			break;
		case 'h':
			fputs(hs_show_usage, stdout);
			return -1;
		default: /* HS_OPT_INVALID: already reported */
			return HS_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		hs_cli_error("show: expected CORE and ADDRESS (see heapscope show --help)");
		return HS_EXIT_USAGE;
	}
	a->core = argv[optind];
	if (!hs_parse_u64(argv[optind + 1], &a->address)) {
		hs_cli_error("show: invalid ADDRESS '%s' (expected 0x... or a decimal number)",
			     argv[optind + 1]);
		return HS_EXIT_USAGE;
	}
	return HS_EXIT_OK;
}

/* Where an address is when no chunk holds it, for the error message: a
 * module's symbol, or the memory table's kind (and owner) of its range. */
static void hs_show_where(struct hs_process *proc, const struct hs_heap *heap,
			  uint64_t addr, char *buf, size_t len)
{
	struct hs_module *m = hs_process_module_at(proc, addr);
	struct hs_symbol sym;
	struct hs_memmap *map = NULL;
	const struct hs_mem_range *r = NULL;
	if (!m && hs_memmap_build(proc, heap, &map) == NULL)
		r = hs_memmap_find(map, addr);
	if (m && hs_module_symbol_at(m, addr, &sym))
		snprintf(buf, len, " (it is in %s: %s + 0x%" PRIx64 ")", m->name, sym.name,
			 addr - sym.addr);
	else if (m)
		snprintf(buf, len, " (it is in %s)", m->name);
	else if (r)
		snprintf(buf, len, " (it is in %s%s%s%s memory [0x%" PRIx64 ", 0x%" PRIx64 ")%s)",
			 r->kind == HS_MEM_HEAP ? "the allocator's heap" :
			 hs_mem_kind_name(r->kind), r->name ? " (" : "", r->name ? r->name : "",
			 r->name ? ")" : "", r->start, r->end,
			 r->kind == HS_MEM_HEAP ? ", between chunks" : "");
	else if (hs_memory_find(&proc->mem, addr))
		snprintf(buf, len, " (it is mapped in the core, outside the heap)");
	else
		snprintf(buf, len, " (it is not mapped in the core)");
	hs_memmap_destroy(map);
}

/* One chunk on a line of a chain: address, offset, type. */
static void hs_show_hop(struct hs_analysis *a, const struct hs_anchor_hop *h, bool last,
			FILE *out)
{
	char type[256];
	const char *kind = NULL;
	if (!hs_classify_chunk(a->classifier, h->id, type, sizeof(type), &kind, NULL, 0))
		snprintf(type, sizeof(type), "?");
	if (last)
		fprintf(out, "  -> 0x%" PRIx64 "  %s (%s): this chunk\n", h->chunk, type, kind ? kind : "-");
	else
		fprintf(out, "  -> 0x%" PRIx64 "  %s (%s): +0x%" PRIx64 " holds 0x%" PRIx64 "\n",
		       h->chunk, type, kind ? kind : "-", h->offset, h->value);
}

/*
 * Why the chunk is alive (the shortest chain from a root), or that it is
 * leaked: direct, or indirect and which leaked chunks refer to it.
 */
static struct hs_error *hs_show_verdict(struct hs_analysis *a, hs_chunk_id id,
					const struct hs_analyze_options *opts, FILE *out)
{
	struct hs_anchor *an = NULL;
	struct hs_error *err = hs_refgraph_anchor(a->graph, id, &an);
	if (err)
		return err;
	if (!an) {
		uint64_t refs[4], n;
		hs_refgraph_referrers(a->graph, id, refs, HS_ARRAY_SIZE(refs), &n);
		if (!n) {
			fprintf(out, "verdict  leaked, direct: no root reaches it and no other leaked "
			       "chunk refers to it\n");
			return NULL;
		}
		fprintf(out, "verdict  leaked, indirect: no root reaches it; %" PRIu64 " leaked "
		       "chunk%s refer%s to it:\n", n, n == 1 ? "" : "s", n == 1 ? "s" : "");
		for (uint64_t i = 0; i < n && i < HS_ARRAY_SIZE(refs); i++) {
			struct hs_chunk c;
			hs_chunk_id rid;
			char type[256];
			const char *kind = NULL;
			if (!hs_heap_find(a->heap, refs[i], &c, &rid) ||
			    !hs_classify_chunk(a->classifier, rid, type, sizeof(type), &kind, NULL, 0))
				snprintf(type, sizeof(type), "?");
			fprintf(out, "  <- 0x%" PRIx64 "  %s (%s)\n", refs[i], type, kind ? kind : "-");
		}
		if (n > HS_ARRAY_SIZE(refs))
			fprintf(out, "  (and %" PRIu64 " more)\n", n - HS_ARRAY_SIZE(refs));
		return NULL;
	}
	if (!opts->no_retained) {
		struct hs_dominators *dom = NULL;
		err = hs_dominators_create(a->graph, opts->retained_limit ? opts->retained_limit
								    : HS_RETAINED_LIMIT_DEFAULT,
					   &dom);
		if (err && err->code != HS_ERR_OTHER) {
			hs_anchor_destroy(an);
			return err;
		}
		char b[32];
		if (dom)
			fprintf(out, "retained %s: freeing this chunk frees it and every chunk only it "
			       "keeps alive (dominator tree)\n",
			       hs_format_bytes(hs_dominators_retained(dom, id), b, sizeof(b)));
		else
			fprintf(out, "retained (left out: %s)\n", err->message);
		hs_error_destroy(err);
		err = NULL;
		hs_dominators_destroy(dom);
	}
	if (an->truncated) {
		fprintf(out, "verdict  reachable; %s\n", an->root);
	} else {
		fprintf(out, "verdict  reachable: a chain of %zu reference%s from a root\n", an->nhops,
		       an->nhops == 1 ? "" : "s");
		if (an->root_addr)
			fprintf(out, "  root  %s holds 0x%" PRIx64 "\n", an->root, an->value);
		else
			fprintf(out, "  root  %s = 0x%" PRIx64 "\n", an->root, an->value);
		for (size_t i = 0; i < an->nhops; i++)
			hs_show_hop(a, &an->hops[i], i + 1 == an->nhops, out);
	}
	hs_anchor_destroy(an);
	return NULL;
}

struct hs_error *hs_show_chunk(struct hs_analysis *a, uint64_t address, uint64_t bytes,
			       bool redact, bool verdict, const struct hs_analyze_options *opts,
			       FILE *out)
{
	struct hs_chunk chunk;
	hs_chunk_id id;
	if (!hs_heap_find(a->heap, address, &chunk, &id)) {
		char where[512];
		hs_show_where(a->proc, a->heap, address, where, sizeof(where));
		return hs_error_create(HS_ERR_NOT_FOUND, "no heap chunk contains 0x%" PRIx64 "%s",
				       address, where);
	}
	const struct hs_chunk *ch = &chunk;
	const char *kind = NULL;
	char type[512], why[1024];
	bool typed = hs_classify_chunk(a->classifier, id, type, sizeof(type), &kind, why,
				       sizeof(why));

	fprintf(out, "address  0x%" PRIx64 " (chunk + %" PRIu64 ")\n", address,
	       address - ch->addr);
	uint64_t usable = hs_chunk_usable(a->heap, ch);
	fprintf(out, "chunk    0x%" PRIx64 ", %" PRIu64 " bytes as %s accounts it (%" PRIu64
	       " usable), %s%s%s\n",
	       ch->addr, hs_chunk_size(ch), a->heap->allocator, usable,
	       hs_chunk_state_name(hs_chunk_state(ch)),
	       (hs_chunk_flags(ch) & HS_CHUNK_F_METADATA) ? ", allocator metadata" : "",
	       (hs_chunk_flags(ch) & HS_CHUNK_F_MMAPPED) ? ", mmapped" : "");
	if (typed)
		fprintf(out, "type     %s (%s)\n", type, kind);
	else
		fprintf(out, "type     -\n");
	fprintf(out, "why      %s\n", why);
	if (verdict && a->graph && hs_chunk_state(ch) == HS_CHUNK_IN_USE &&
	    !(hs_chunk_flags(ch) & HS_CHUNK_F_METADATA)) {
		struct hs_error *err = hs_show_verdict(a, id, opts, out);
		if (err)
			return err;
	}
	if (redact) {
		fprintf(out, "hexdump  (redacted)\n");
	} else {
		/* The bytes the application may use, and no more: the rest of
		 * the accounted size is the allocator's (glibc's header words). */
		uint64_t n = usable < bytes ? usable : bytes;
		const struct hs_memory_range *r = hs_memory_find(&a->proc->mem, ch->addr);
		uint64_t have = r && ch->addr - r->start < r->filesz
					? r->filesz - (ch->addr - r->start) : 0;
		if (n > have)
			n = have;
		const uint8_t *p = n ? hs_memory_ptr(&a->proc->mem, ch->addr, n) : NULL;
		char *hex = p ? hs_hexdump(p, (size_t)n) : NULL;
		if (hex) {
			fprintf(out, "hexdump  first %" PRIu64 " bytes from 0x%" PRIx64 "\n%s", n,
			       ch->addr, hex);
		} else {
			fprintf(out, "hexdump  (the chunk's bytes are not in the core)\n");
		}
		free(hex);
	}
	return NULL;
}

int hs_cmd_show(int argc, char **argv)
{
	struct hs_show_args args;
	int rc = hs_show_parse(argc, argv, &args);
	if (rc)
		return rc < 0 ? HS_EXIT_OK : rc;

	struct hs_analysis *a;
	args.opts.no_census = true;
	struct hs_error *err = hs_analysis_run(args.core, &args.opts, &a);
	if (err)
		return hs_cli_fail(err);
	err = hs_show_chunk(a, args.address, args.bytes, args.opts.redact, true, &args.opts,
			    stdout);
	hs_analysis_destroy(a);
	if (err)
		return hs_cli_fail(err);
	if (fflush(stdout) != 0 || ferror(stdout))
		return hs_cli_fail(hs_error_create(HS_ERR_OTHER, "<stdout>: write failed"));
	return HS_EXIT_OK;
}
