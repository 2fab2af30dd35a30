// closure_proxy.cc: the demo: a proxy whose error path leaks common::Closure objects (seeds/000).
//
// The story (an Alibaba field report, seeds/000): a C++ proxy in front of a
// Paxos coordination service grew until the kernel killed its neighbours.
// The address cache looked normal in gdb, and `strings core` showed few
// strings. Counting objects per vtable over every allocated block of the
// core found ~1.6 billion live common::Closure objects: a request handler
// creates a CheckCall closure that deletes itself when Run(), and an early
// return on a bad cluster name never runs it.
//
// This program replays that: a few thousand legitimate objects (sessions,
// cache entries with std::string keys in a std::map), 50 000 good requests
// whose closures run and delete themselves, and 200 000 bad requests whose
// closures leak. Like the golden fixtures, it records mallinfo2() and what
// it holds to argv[1], prints "ready" and waits to be gcore'd.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

#include "../fixtures/fixture_common.h"

namespace common {

// A one-shot callback: Run() calls it and then deletes the closure.
class Closure {
public:
	typedef void (*Callback)(void *self, uint64_t request_id, int status);

	Closure(Callback cb, void *self, uint64_t request_id, int64_t deadline_ms)
		: cb_(cb), self_(self), request_id_(request_id),
		  deadline_ms_(deadline_ms), status_(0)
	{
	}
	virtual ~Closure() {}

	virtual void Run(int status)
	{
		status_ = status;
		cb_(self_, request_id_, status_);
		delete this;
	}

private:
	Callback cb_;
	void *self_;
	uint64_t request_id_;
	int64_t deadline_ms_;
	int status_;
};

} // namespace common

namespace proxy {

// proxy/io_handler.h in the article: typedef common::Closure CheckCall;
typedef common::Closure CheckCall;

class Session {
public:
	Session(uint64_t id, const char *peer) : id_(id), requests_(0)
	{
		snprintf(peer_, sizeof(peer_), "%s", peer);
	}
	virtual ~Session() {}
	void Count() { requests_++; }

private:
	uint64_t id_;
	uint64_t requests_;
	char peer_[80];
};

// One resolved service address list, keyed by "cluster/role/service".
class CacheEntry {
public:
	explicit CacheEntry(const std::string &key) : key_(key), hits_(0), version_(1)
	{
		for (unsigned i = 0; i < 8; i++)
			addrs_[i] = 0x0a000000u + (uint32_t)(key.size() * 7 + i);
	}
	virtual ~CacheEntry() {}
	void Hit() { hits_++; }

private:
	std::string key_;
	uint32_t addrs_[8];
	uint64_t hits_;
	uint64_t version_;
};

struct Request {
	uint64_t id;
	uint64_t session;
	const char *cluster;
	unsigned role, service;
};

class Proxy {
public:
	explicit Proxy(const char *cluster) : cluster_(cluster) {}

	void AddSession(uint64_t id, const char *peer)
	{
		sessions_[id] = new Session(id, peer);
	}
	void Subscribe(unsigned role, unsigned service)
	{
		std::string key = Key(cluster_, role, service);
		cache_[key] = new CacheEntry(key);
	}

	// The handler from the article, bug included.
	void HandleResolve(const Request &req)
	{
		CheckCall *check = new CheckCall(&Proxy::OnChecked, this, req.id,
						 (int64_t)req.id + 3000);
		auto s = sessions_.find(req.session);
		if (s != sessions_.end())
			s->second->Count();
		if (strcmp(req.cluster, cluster_) != 0) {
			bad_cluster_++;
			return; // BUG: `check` is never Run(), so it never deletes itself
		}
		auto it = cache_.find(Key(req.cluster, req.role, req.service));
		if (it != cache_.end())
			it->second->Hit();
		check->Run(it != cache_.end() ? 0 : 404);
	}

	typedef std::map<std::string, CacheEntry *> Cache;
	// libstdc++'s map node: the tree links and the value.
	static const size_t kCacheNode = sizeof(std::_Rb_tree_node<Cache::value_type>);

	uint64_t bad_cluster() const { return bad_cluster_; }
	uint64_t checked() const { return checked_; }
	void ReserveSessions(size_t n) { sessions_.reserve(n); }

private:
	static void OnChecked(void *self, uint64_t, int)
	{
		static_cast<Proxy *>(self)->checked_++;
	}
	static std::string Key(const char *cluster, unsigned role, unsigned service)
	{
		char buf[64];
		snprintf(buf, sizeof(buf), "%s/role-%04u/service-%02u", cluster, role,
			 service);
		return buf;
	}

	const char *cluster_;
	Cache cache_;
	std::unordered_map<uint64_t, Session *> sessions_;
	uint64_t bad_cluster_ = 0, checked_ = 0;
};

} // namespace proxy

static const unsigned kSessions = 2000;
static const unsigned kRoles = 300, kServicesPerRole = 10; // 3000 cache entries
static const unsigned kRequests = 250000;                  // every 5th is good

int main(int argc, char **argv)
{
	if (argc < 2)
		fx_die("usage: closure_proxy STATS-FILE");

	proxy::Proxy px("cluster-a");
	// Sized up front: a rehash frees the old bucket array mid-run, and a
	// freed chunk split by a later allocation can make an object's chunk
	// bigger than its class, which would make the counts below inexact.
	px.ReserveSessions(kSessions);
	for (unsigned i = 0; i < kSessions; i++) {
		char peer[32];
		snprintf(peer, sizeof(peer), "10.0.%u.%u:%u", i / 250, i % 250, 40000 + i);
		px.AddSession(i, peer);
	}
	for (unsigned r = 0; r < kRoles; r++)
		for (unsigned s = 0; s < kServicesPerRole; s++)
			px.Subscribe(r, s);

	// The traffic: a misconfigured client resolves with the wrong cluster
	// name four times out of five.
	for (unsigned i = 0; i < kRequests; i++) {
		proxy::Request req = {i, i % kSessions, i % 5 ? "cluster-b" : "cluster-a",
				      i % kRoles, (i / kRoles) % kServicesPerRole};
		px.HandleResolve(req);
	}

	struct fx_out out;
	out.len = 0;
	fx_glibc_stats(&out);
	fx_expect(&out, fx_glibc_chunk(sizeof(common::Closure)), px.bad_cluster());
	fx_expect(&out, fx_glibc_chunk(sizeof(proxy::Session)), kSessions);
	fx_expect(&out, fx_glibc_chunk(sizeof(proxy::CacheEntry)), kRoles * kServicesPerRole);
	fx_expect(&out, fx_glibc_chunk(proxy::Proxy::kCacheNode), kRoles * kServicesPerRole);
	// What the demo is about: the leak is the biggest type in the report.
	fx_type(&out, "common::Closure", px.bad_cluster());
	fx_type(&out, "proxy::Session", kSessions);
	fx_type(&out, "proxy::CacheEntry", kRoles * kServicesPerRole);
	fx_report(&out, "types.0.name", "common::Closure");
	fx_report(&out, "allocator.name", "glibc");
	fx_report_u(&out, "report", "core.threads", 1);
	fx_write_file(argv[1], &out);
	if (px.bad_cluster() + px.checked() != kRequests)
		fx_die("request accounting");
	fx_ready_and_park();
	return 0;
}
