-- wrk script: POST /predict for a random ml-latest-small user (ids 1..610), top_k 10.
--   wrk -t2 -c32 -d20s --latency -s deploy/wrk/predict.lua http://127.0.0.1:8000
-- USERS=n in the environment changes the user range (1..n). Each thread has its own seed.
-- wrk counts answers other than 2xx/3xx itself ("Non-2xx or 3xx responses").
local users = tonumber(os.getenv("USERS") or "610")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local body = string.format('{"user_id":"%d","top_k":10}', math.random(1, users))
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, body)
end
