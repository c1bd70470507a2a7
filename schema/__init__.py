"""Strawberry types, inputs and unions, and the assembled schema."""
