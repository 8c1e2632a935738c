// Step 1: Create a job
const response = await fetch(`https://api.shortapi.ai/api/v1/job/create`, { method: "POST", headers: { "Authorization": `Bearer ${SHORTAPI_KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ "model": "vidu/vidu-q2/image-to-video", "args": { "mode": "pro", "prompt": "Astronaut snowboarding directly on dense clouds, snowboard visibly pressing and gliding across cloud surface, compressing clouds slightly underfoot. Astronaut actively carves smooth turns. Clouds drift slowly around. The drone camera pulls steadily backward, revealing a wide-angle view of the astronaut snowboarding across the endless cloudscape. Ultra-realistic lighting, cinematic depth of field, cloud shadows, helmet reflections, atmospheric sunlight", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/image-to-video-image.png" }, "callback_url": "CALLBACK_URL" }) });
const data = await response.json();
const JOB_ID = data.job_id;

// Step 2: Poll for results
const result = await fetch(`https://api.shortapi.ai/api/v1/job/query?id=${JOB_ID}`, { method: "GET", headers: { "Authorization": `Bearer ${SHORTAPI_KEY}` } });
const resultData = await result.json();
console.log(resultData);
