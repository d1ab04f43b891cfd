/*
 * methods.c - the test peer's method tables: PeerService, and the internal
 * methods of dispatch and reporting that intake's outbox delivers to, so a
 * peer can stand in for those services.  Apply is open to the followup
 * certificate, which the tests' sender peers present (scripts/certs makes no
 * certificate of its own for the peer).
 */
#include "hotline/dispatch/v1/dispatch.pb-c.h"
#include "hotline/reporting/v1/reporting.pb-c.h"
#include "hotline/testing/v1/peer.pb-c.h"
#include "peer.h"

static const hl_method peer_methods[] = {
	{"Apply", peer_apply, HL_ACCESS_INTERNAL, "followup", NULL},
	{"Enqueue", peer_enqueue, HL_ACCESS_USER, NULL, NULL},
};

static const hl_method dispatch_methods[] = {
	{"SubmitTicket", peer_submit_ticket, HL_ACCESS_INTERNAL, "intake", NULL},
};

static const hl_method reporting_methods[] = {
	{"RecordEvents", peer_record_events, HL_ACCESS_INTERNAL, "intake dispatch followup compliance", NULL},
};

#define N(x) (sizeof x / sizeof x[0])

const hl_service peer_services[] = {
	{&hotline__testing__v1__peer_service__descriptor, peer_methods, N(peer_methods)},
	{&hotline__dispatch__v1__dispatch_service__descriptor, dispatch_methods, N(dispatch_methods)},
	{&hotline__reporting__v1__reporting_service__descriptor, reporting_methods, N(reporting_methods)},
};
const size_t peer_services_count = N(peer_services);
