"""The video pipeline (docs/video.md): probe an uploaded video with the bundled ffmpeg, refuse what is not a
playable video, and render the served variants (poster frame and its sizes, blurred poster, watermarked preview
clip, H.264/AAC stream). Runs only in the video function (chalicelib/triggers/videos.py), whose Lambda layer
carries the ffmpeg binary (imageio-ffmpeg); nothing here touches AWS.
"""

from .models import Rendered, VideoInfo, VideoRejected

__all__ = ["Rendered", "VideoInfo", "VideoRejected"]
