# Step 1: Create a job
response=$(curl --request POST \
  --url https://api.shortapi.ai/api/v1/job/create \
  --header "Authorization: Bearer $SHORTAPI_KEY" \
  --header "Content-Type: application/json" \
  --data '{ "model": "vidu/vidu-q2/image-to-video", "args": { "mode": "pro", "prompt": "Astronaut snowboarding directly on dense clouds, snowboard visibly pressing and gliding across cloud surface, compressing clouds slightly underfoot. Astronaut actively carves smooth turns. Clouds drift slowly around. The drone camera pulls steadily backward, revealing a wide-angle view of the astronaut snowboarding across the endless cloudscape. Ultra-realistic lighting, cinematic depth of field, cloud shadows, helmet reflections, atmospheric sunlight", "image": "https://file.shortapi.ai/assets/examples/vidu/vidu-q2/image-to-video-image.png" }, "callback_url": "CALLBACK_URL" }')
JOB_ID=$(echo "$response" | grep -o '"job_id": *"[^"]*"' | sed 's/"job_id": *//; s/"//g')

# Step 2: Poll for results
curl --request GET \
  --url "https://api.shortapi.ai/api/v1/job/query?id=$JOB_ID" \
  --header "Authorization: Bearer $SHORTAPI_KEY"
