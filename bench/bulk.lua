-- wrk script for bench/bulk.sh: each thread posts BULK_PER_THREAD leads
-- (distinct emails) and stops, so the whole run sends an exact count.
local per = tonumber(os.getenv("BULK_PER_THREAD") or "5000")
local counter = 0
local id = 0

function setup(thread)
	id = id + 1
	thread:set("tid", id)
end

function init(args)
	counter = 0
end

function request()
	counter = counter + 1
	if counter > per then
		wrk.thread:stop()
		return wrk.format("POST", nil, nil, "{}")
	end
	local body = string.format('{"email":"lead%d-%d@example.com","source":"chatbot"}', tid, counter)
	return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
