import requests

# Step 1: Create a job
url = "https://api.shortapi.ai/api/v1/job/create"
payload = { "model": "vidu/vidu-q3/image-to-video", "args": { "mode": "pro", "prompt": "The little parrot looked around, flew out of the screen, and landed on the palm of a hand; the masterful camera work created a sense of realism.", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q3/image-to-video-image.webp" }, "callback_url": "CALLBACK_URL" }
headers = { "Authorization": f"Bearer {SHORTAPI_KEY}", "Content-Type": "application/json" }
response = requests.post(url, headers=headers, json=payload)
data = response.json()
JOB_ID = data.get("job_id")

# Step 2: Poll for results
result_url = f"https://api.shortapi.ai/api/v1/job/query?id={JOB_ID}"
result = requests.get(result_url, headers={"Authorization": f"Bearer {SHORTAPI_KEY}"})
print(result.json())
