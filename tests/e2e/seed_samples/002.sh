# Step 1: Create a job
response=$(curl --request POST \
  --url https://api.shortapi.ai/api/v1/job/create \
  --header "Authorization: Bearer $SHORTAPI_KEY" \
  --header "Content-Type: application/json" \
  --data '{ "model": "vidu/vidu-q2/start-end-to-video", "args": { "mode": "pro", "prompt": "The camera zooms in, and the character slowly emerges from the water.", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/start-end-to-video-image.png", "image_tail": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/start-end-to-video-image_tail.png" }, "callback_url": "CALLBACK_URL" }')
JOB_ID=$(echo "$response" | grep -o '"job_id": *"[^"]*"' | sed 's/"job_id": *//; s/"//g')

# Step 2: Poll for results
curl --request GET \
  --url "https://api.shortapi.ai/api/v1/job/query?id=$JOB_ID" \
  --header "Authorization: Bearer $SHORTAPI_KEY"
