"""Protocol adapters over the same engines and pipeline as ``talk``: OpenAI-compatible HTTP
(audio, chat), OpenAI Realtime over WebSocket, and Wyoming."""
