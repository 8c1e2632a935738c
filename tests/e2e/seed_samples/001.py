import requests

# Step 1: Create a job
url = "https://api.shortapi.ai/api/v1/job/create"
payload = { "model": "vidu/vidu-q2/image-to-video", "args": { "mode": "pro", "prompt": "Astronaut snowboarding directly on dense clouds, snowboard visibly pressing and gliding across cloud surface, compressing clouds slightly underfoot. Astronaut actively carves smooth turns. Clouds drift slowly around. The drone camera pulls steadily backward, revealing a wide-angle view of the astronaut snowboarding across the endless cloudscape. Ultra-realistic lighting, cinematic depth of field, cloud shadows, helmet reflections, atmospheric sunlight", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/image-to-video-image.png" }, "callback_url": "CALLBACK_URL" }
headers = { "Authorization": f"Bearer {SHORTAPI_KEY}", "Content-Type": "application/json" }
response = requests.post(url, headers=headers, json=payload)
data = response.json()
JOB_ID = data.get("job_id")

# Step 2: Poll for results
result_url = f"https://api.shortapi.ai/api/v1/job/query?id={JOB_ID}"
result = requests.get(result_url, headers={"Authorization": f"Bearer {SHORTAPI_KEY}"})
print(result.json())
