"""The baseline: a bare FastAPI endpoint with no middleware, auth or database."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    """Return a constant."""
    return {"status": "ok"}
