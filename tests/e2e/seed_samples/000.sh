# Step 1: Create a job
response=$(curl --request POST \
  --url https://api.shortapi.ai/api/v1/job/create \
  --header "Authorization: Bearer $SHORTAPI_KEY" \
  --header "Content-Type: application/json" \
  --data '{ "model": "vidu/vidu-q3/image-to-video", "args": { "mode": "pro", "prompt": "The little parrot looked around, flew out of the screen, and landed on the palm of a hand; the masterful camera work created a sense of realism.", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q3/image-to-video-image.webp" }, "callback_url": "CALLBACK_URL" }')
JOB_ID=$(echo "$response" | grep -o '"job_id": *"[^"]*"' | sed 's/"job_id": *//; s/"//g')

# Step 2: Poll for results
curl --request GET \
  --url "https://api.shortapi.ai/api/v1/job/query?id=$JOB_ID" \
  --header "Authorization: Bearer $SHORTAPI_KEY"
