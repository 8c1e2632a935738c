// Step 1: Create a job
const response = await fetch(`https://api.shortapi.ai/api/v1/job/create`, { method: "POST", headers: { "Authorization": `Bearer ${SHORTAPI_KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ "model": "vidu/vidu-q2/start-end-to-video", "args": { "mode": "pro", "prompt": "The camera zooms in, and the character slowly emerges from the water.", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/start-end-to-video-image.png", "image_tail": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/start-end-to-video-image_tail.png" }, "callback_url": "CALLBACK_URL" }) });
const data = await response.json();
const JOB_ID = data.job_id;

// Step 2: Poll for results
const result = await fetch(`https://api.shortapi.ai/api/v1/job/query?id=${JOB_ID}`, { method: "GET", headers: { "Authorization": `Bearer ${SHORTAPI_KEY}` } });
const resultData = await result.json();
console.log(resultData);
