// SwipeFlix load test: ramp-up, steady state and ramp-down of POST /predict for random users,
// with the seed's objectives (p95 < 500 ms, errors < 1%, more than 100 requests/s) and our own
// p99 < 50 ms as thresholds: k6 exits non-zero when one fails.
//
//   make loadtest                                   # against http://localhost:8000
//   API_URL=http://host:8000 RATE=300 bin/k6 run k6/script.js
//
// Settings (environment): API_URL, RATE (steady requests/s, default 200), RAMP (default 30s),
// STEADY (default 1m), USERS (user ids 1..USERS; by default the number of users in the model the
// api serves, from GET /model, so it matches whatever `make run` loaded), USER_PREFIX
// (default empty), COLD_SHARE (share of unknown users, default 0.05), TOP_K (default 10).
import http from 'k6/http';
import { check, fail } from 'k6';
import { Trend } from 'k6/metrics';

const API_URL = (__ENV.API_URL || 'http://localhost:8000').replace(/\/$/, '');
const RATE = parseInt(__ENV.RATE || '200', 10);
const RAMP = __ENV.RAMP || '30s';
const STEADY = __ENV.STEADY || '1m';
const USERS = __ENV.USERS ? parseInt(__ENV.USERS, 10) : 0; // 0: ask the api
const USER_PREFIX = __ENV.USER_PREFIX || '';
const COLD_SHARE = parseFloat(__ENV.COLD_SHARE || '0.05');
const TOP_K = parseInt(__ENV.TOP_K || '10', 10);

// Server-side time of the answer, as the api reports it.
const inferenceMs = new Trend('swipeflix_inference_time_ms', true);

export const options = {
  scenarios: {
    predict: {
      // An open model: requests arrive at the set rate whatever the latency, so a slow server
      // shows up as latency and dropped iterations instead of a lower rate.
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: 400,
      stages: [
        { target: RATE, duration: RAMP }, // ramp-up
        { target: RATE, duration: STEADY }, // steady state
        { target: 0, duration: RAMP }, // ramp-down
      ],
    },
  },
  thresholds: {
    'http_req_duration{name:predict}': ['p(95)<500', 'p(99)<50'],
    http_req_failed: ['rate<0.01'],
    http_reqs: ['rate>100'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// setup checks the api is up and settles the user range: USERS when set, else the number of
// users in the model it serves.
export function setup() {
  const res = http.get(`${API_URL}/health`);
  if (res.status !== 200) {
    fail(`GET ${API_URL}/health answered ${res.status}: start the api first (make run)`);
  }
  if (USERS > 0) {
    return { users: USERS };
  }
  const info = http.get(`${API_URL}/model`);
  let users = 0;
  try {
    users = info.json('stats.users') || 0;
  } catch (e) {
    users = 0;
  }
  if (info.status !== 200 || users <= 0) {
    fail(`GET ${API_URL}/model answered ${info.status} without stats.users: set USERS`);
  }
  console.log(`user ids 1..${users} (the served model's users; set USERS to change)`);
  return { users: users };
}

function randomUser(users) {
  if (Math.random() < COLD_SHARE) {
    return `k6-new-user-${Math.floor(Math.random() * 1e9)}`;
  }
  return `${USER_PREFIX}${1 + Math.floor(Math.random() * users)}`;
}

export default function (data) {
  const user = randomUser(data.users);
  const res = http.post(`${API_URL}/predict`, JSON.stringify({ user_id: user, top_k: TOP_K }), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'predict' },
  });
  let body = null;
  try {
    body = res.json();
  } catch (e) {
    body = null;
  }
  check(res, {
    'status is 200': (r) => r.status === 200,
    'answers for the user asked': () => body !== null && body.user_id === user,
    'has recommendations': () => body !== null && Array.isArray(body.recommendations) && body.recommendations.length > 0,
    'has a model version': () => body !== null && body.model_version !== undefined && body.model_version !== '',
  });
  if (body !== null && typeof body.inference_time_ms === 'number') {
    inferenceMs.add(body.inference_time_ms);
  }
}
