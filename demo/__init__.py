"""The demo application: FastAPI Users' SQLAlchemy example, on fastapi-userkit."""
