"""Rendering of the pipeline's event stream: a live Rich screen, plain lines, or JSON lines.
Pure with respect to engines: state in, renderable out."""
